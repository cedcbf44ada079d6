// The hotbus dashboard: the plugins, their dependency graph, the reload timeline and the live
// event stream, kept current by one server-sent event stream (/api/events) and the JSON API.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const HEADERS = { "X-Hotbus-CSRF": "1" };
  const KEPT_EVENTS = 500;
  const SHOWN_EVENTS = 200;
  const SHOWN_TRANSACTIONS = 15;
  const REFRESHING = /^hotbus\.(plugin|reload|runtime|config)\./;

  const view = {
    rows: new Map(), // name -> the row's last data
    transactions: [],
    lastPlan: null,
    events: [], // the last KEPT_EVENTS events, oldest first
    count: 0,
    missedBefore: 0, // missed on earlier connections
    missedNow: 0, // missed on this connection
    topic: ">",
    plugin: "",
  };

  // -- helpers ------------------------------------------------------------------------------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "class") node.className = value;
      else if (key.startsWith("data-")) node.setAttribute(key, value);
      else node[key] = value;
    }
    for (const child of children) {
      if (child != null) node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function baseName(path) {
    return String(path).split(/[\\/]/).pop();
  }

  function ago(iso) {
    if (!iso) return "";
    const seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
    if (seconds < 60) return `${Math.floor(seconds)} s ago`;
    if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
    return `${Math.floor(seconds / 3600)} h ago`;
  }

  function ms(value) {
    return value == null ? "" : `${Number(value).toFixed(1)} ms`;
  }

  // NATS subject matching: "*" is one token, ">" (last) the rest.
  function topicMatches(pattern, topic) {
    const want = pattern.split(".");
    const have = topic.split(".");
    for (let i = 0; i < want.length; i++) {
      if (want[i] === ">") return have.length > i;
      if (i >= have.length) return false;
      if (want[i] !== "*" && want[i] !== have[i]) return false;
    }
    return want.length === have.length;
  }

  function validPattern(pattern) {
    const tokens = pattern.split(".");
    return tokens.every((t, i) => /^[A-Za-z0-9_-]+$/.test(t) || t === "*" || (t === ">" && i === tokens.length - 1));
  }

  function eventPlugins(event) {
    const names = new Set();
    if (typeof event.plugin === "string") names.add(event.plugin);
    for (const key of ["members", "triggers", "plugins", "joining", "held"]) {
      if (Array.isArray(event[key])) event[key].forEach((n) => names.add(n));
    }
    if (Array.isArray(event.changes)) event.changes.forEach((c) => names.add(c.plugin));
    return names;
  }

  async function getJSON(path) {
    const response = await fetch(path, { headers: HEADERS, cache: "no-store" });
    if (!response.ok) throw new Error(`${path}: ${response.status}`);
    return response.json();
  }

  // -- plugins ------------------------------------------------------------------------------

  function flash(row) {
    row.classList.remove("flash");
    void row.offsetWidth; // restart the animation
    row.classList.add("flash");
  }

  function problemCell(data) {
    const cell = el("td", { class: "error" });
    if (data.error) {
      const error = data.error;
      const where = error.file ? `${baseName(error.file)}${error.line ? ":" + error.line : ""}` : "";
      const phase = data.phase ? `${data.phase}: ` : "";
      cell.append(phase, `${error.type.split(".").pop()}: ${error.message}`);
      if (where) cell.append(" ", el("span", { class: "where", title: error.file }, `(${where})`));
      if (data.serving) cell.append(el("div", { class: "state-name" }, `still serving ${data.version || ""}`));
      if (error.traceback) {
        const pre = el("pre", { class: "traceback", hidden: true }, error.traceback);
        const toggle = el("button", { class: "link", type: "button" }, "traceback");
        toggle.addEventListener("click", () => { pre.hidden = !pre.hidden; });
        cell.append(" ", toggle, pre);
      }
    } else if (data.reason && data.state !== "active") {
      cell.append(data.reason);
    }
    return cell;
  }

  function actionCell(data) {
    const cell = el("td", { class: "actions" });
    const button = (action, label) => {
      const b = el("button", { type: "button", "data-action": action }, label);
      b.addEventListener("click", () => act(data.name, action));
      return b;
    };
    cell.append(button("reload", "reload"), " ");
    cell.append(data.enabled ? button("disable", "disable") : button("enable", "enable"));
    return cell;
  }

  function renderRow(data) {
    const previous = view.rows.get(data.name);
    let row = document.querySelector(`#plugins tr[data-plugin="${CSS.escape(data.name)}"]`);
    // An unchanged row stays as it is (a button being pressed is not replaced under the mouse).
    if (row && previous && row.dataset.state === data.state && JSON.stringify(previous) === JSON.stringify(data)) return;
    const open = row ? !!row.querySelector(".traceback:not([hidden])") : false;
    const fresh = el("tr", { "data-plugin": data.name, "data-state": data.state },
      el("td", {}, el("span", { class: "dot", title: data.state })),
      el("td", { class: "name" }, data.name, el("span", { class: "state-name" }, data.state)),
      el("td", { class: "version" }, data.version || "–"),
      el("td", { class: "source", title: data.source }, baseName(data.source)),
      el("td", { class: "requires" }, (data.requires || []).join(", ")),
      el("td", { class: "changed", "data-at": data.changed_at || "" }, ago(data.changed_at)),
      problemCell(data),
      actionCell(data));
    if (open) { const pre = fresh.querySelector(".traceback"); if (pre) pre.hidden = false; }
    if (row) row.replaceWith(fresh); else $("plugins").tBodies[0].append(fresh);
    if (previous && (previous.state !== data.state || previous.version !== data.version)) flash(fresh);
    view.rows.set(data.name, data);
  }

  function renderPlugins(rows) {
    const names = new Set(rows.map((r) => r.name));
    for (const row of [...document.querySelectorAll("#plugins tbody tr")]) {
      if (!names.has(row.dataset.plugin)) { row.remove(); view.rows.delete(row.dataset.plugin); }
    }
    const body = $("plugins").tBodies[0];
    rows.forEach((data) => renderRow(data));
    // Dependency order, as the runtime lists them.
    rows.forEach((data) => body.append(body.querySelector(`tr[data-plugin="${CSS.escape(data.name)}"]`)));
  }

  function markReloading(names) {
    for (const name of names) {
      const row = document.querySelector(`#plugins tr[data-plugin="${CSS.escape(name)}"]`);
      if (row) { row.dataset.state = "reloading"; flash(row); }
    }
  }

  async function act(name, action) {
    const response = await fetch(`/api/plugins/${encodeURIComponent(name)}/${action}`, {
      method: "POST", headers: HEADERS, cache: "no-store",
    });
    const body = await response.json().catch(() => ({}));
    const said = response.ok ? (body.topic || "no change") : (body.error || response.status);
    document.body.dataset.lastAction = `${action} ${name}: ${said}`;
    refresh();
  }

  // -- the dependency graph -----------------------------------------------------------------

  const SVG = "http://www.w3.org/2000/svg";
  function svg(tag, attrs) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
    return node;
  }

  function renderGraph() {
    const rows = [...view.rows.values()];
    const graph = $("graph");
    graph.replaceChildren();
    const defs = svg("defs");
    const marker = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: "10", refY: "5", markerWidth: "6", markerHeight: "6", orient: "auto" });
    marker.append(svg("path", { d: "M0,0 L10,5 L0,10 z", fill: "#6e7681" }));
    defs.append(marker);
    graph.append(defs);
    const names = new Set(rows.map((r) => r.name));
    const level = new Map();
    const depth = (name, seen = new Set()) => {
      if (level.has(name)) return level.get(name);
      if (seen.has(name)) return 0;
      seen.add(name);
      const deps = (view.rows.get(name)?.depends_on || []).filter((d) => names.has(d));
      const value = deps.length ? 1 + Math.max(...deps.map((d) => depth(d, seen))) : 0;
      level.set(name, value);
      return value;
    };
    rows.forEach((r) => depth(r.name));
    const columns = [];
    rows.forEach((r) => { const l = level.get(r.name); (columns[l] = columns[l] || []).push(r.name); });
    const width = 120, gap = 50, height = 26, vgap = 14;
    const at = new Map();
    columns.forEach((column, x) => column.forEach((name, y) => at.set(name, { x: 10 + x * (width + gap), y: 10 + y * (height + vgap) })));
    const plan = view.lastPlan || { members: [], triggers: [] };
    const members = new Set(plan.members);
    const triggers = new Set(plan.triggers);
    for (const r of rows) {
      for (const dep of r.depends_on || []) {
        if (!at.has(dep)) continue;
        const a = at.get(dep), b = at.get(r.name);
        const cascade = members.has(dep) && members.has(r.name);
        graph.append(svg("path", {
          class: cascade ? "edge cascade" : "edge",
          d: `M${a.x + width},${a.y + height / 2} C${a.x + width + gap / 2},${a.y + height / 2} ${b.x - gap / 2},${b.y + height / 2} ${b.x},${b.y + height / 2}`,
        }));
      }
    }
    for (const [name, p] of at) {
      const classes = ["node", members.has(name) ? "member" : "", triggers.has(name) ? "trigger" : ""].join(" ");
      const g = svg("g", { class: classes, "data-node": name });
      g.append(svg("rect", { x: p.x, y: p.y, width, height, rx: 4 }));
      const text = svg("text", { x: p.x + 8, y: p.y + 17 });
      text.textContent = name;
      g.append(text);
      graph.append(g);
    }
    const tallest = Math.max(1, ...columns.map((c) => c.length));
    const w = 20 + Math.max(1, columns.length) * (width + gap), h = 20 + tallest * (height + vgap);
    graph.setAttribute("width", String(w));
    graph.setAttribute("height", String(h));
    graph.setAttribute("viewBox", `0 0 ${w} ${h}`);
    $("cascade-note").textContent = plan.members.length ? `last transaction: ${plan.triggers.join(", ")} → ${plan.members.join(", ")}` : "";
  }

  // -- the timeline -------------------------------------------------------------------------

  function renderTimeline() {
    const list = $("timeline");
    const shown = view.transactions.slice(-SHOWN_TRANSACTIONS).reverse();
    const longest = Math.max(0.001, ...shown.map((t) => t.durations.total || 0));
    list.replaceChildren(...shown.map((t) => {
      const d = t.durations || {};
      const bar = el("div", { class: "bar", title: `stage ${ms(d.stage)}, quiesce ${ms(d.quiesce)}, swap ${ms(d.swap)}` });
      for (const phase of ["stage", "quiesce", "swap"]) {
        if (d[phase]) bar.append(el("i", { class: phase, style: `width:${(100 * d[phase]) / longest}%` }));
      }
      if (!d.stage && !d.quiesce && !d.swap && d.total) bar.append(el("i", { class: "swap", style: `width:${(100 * d.total) / longest}%` }));
      const who = t.triggers.length ? `${t.triggers.join(", ")}${t.members.length > t.triggers.length ? " → " + t.members.join(", ") : ""}` : t.members.join(", ");
      const failed = t.outcomes.find((o) => o.error);
      const why = failed ? el("div", { class: "state-name" }, `${failed.plugin} at ${failed.phase}: ${failed.error.message}`) : null;
      const times = [d.total != null ? `total ${ms(d.total)}` : "", t.reply_latency_ms != null ? `reply ${ms(t.reply_latency_ms)}` : ""].filter(Boolean).join(" · ");
      return el("li", { "data-plan": t.plan_id, "data-outcome": t.outcome },
        el("span", { class: "outcome" }, t.outcome.replace("_", " "), el("div", { class: "state-name" }, new Date(t.at).toLocaleTimeString())),
        el("div", {}, who, bar, why),
        el("span", { class: "times" }, times));
    }));
  }

  // -- refreshing from the API --------------------------------------------------------------

  let refreshing = null;
  let again = false;
  function refresh() {
    if (refreshing) { again = true; return; }
    refreshing = Promise.all([getJSON("/api/status"), getJSON("/api/transactions")])
      .then(([rows, board]) => {
        renderPlugins(rows);
        view.transactions = board.transactions;
        view.lastPlan = board.last_plan;
        renderGraph();
        renderTimeline();
      })
      .catch((error) => console.warn("hotbus dashboard:", error))
      .finally(() => {
        refreshing = null;
        if (again) { again = false; refresh(); }
      });
  }

  // -- the event stream ---------------------------------------------------------------------

  function shows(event) {
    if (!topicMatches(view.topic, event.topic)) return false;
    return !view.plugin || eventPlugins(event).has(view.plugin);
  }

  function eventLine(event) {
    const fields = Object.entries(event)
      .filter(([k]) => !["topic", "event_id", "timestamp", "source"].includes(k))
      .map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`)
      .join(" ");
    const time = new Date(event.timestamp).toLocaleTimeString();
    return el("li", { "data-topic": event.topic, title: JSON.stringify(event, null, 2) },
      el("span", { class: "time" }, time), el("span", { class: "topic" }, event.topic), fields);
  }

  function renderEvents() {
    const shown = view.events.filter(shows).slice(-SHOWN_EVENTS).reverse();
    $("events").replaceChildren(...shown.map(eventLine));
  }

  function showMissed() {
    const missed = view.missedBefore + view.missedNow;
    $("missed").textContent = String(missed);
    $("missed-box").dataset.missed = String(missed > 0);
  }

  function onEvent(event) {
    view.count += 1;
    view.events.push(event);
    if (view.events.length > KEPT_EVENTS) view.events.splice(0, view.events.length - KEPT_EVENTS);
    if (shows(event)) {
      const list = $("events");
      list.prepend(eventLine(event));
      while (list.children.length > SHOWN_EVENTS) list.lastChild.remove();
    }
    if (event.topic === "hotbus.reload.planned") markReloading(event.members);
    if (REFRESHING.test(event.topic)) refresh();
  }

  let pendingCount = false;
  function connect() {
    const source = new EventSource("/api/events");
    source.addEventListener("open", () => {
      $("connection").textContent = "live";
      $("connection").dataset.connected = "true";
      view.missedBefore += view.missedNow;
      view.missedNow = 0;
      refresh();
    });
    source.addEventListener("error", () => {
      $("connection").textContent = "reconnecting…";
      $("connection").dataset.connected = "false";
    });
    source.addEventListener("message", (message) => {
      onEvent(JSON.parse(message.data));
      if (!pendingCount) {
        pendingCount = true;
        requestAnimationFrame(() => { pendingCount = false; $("event-count").textContent = String(view.count); });
      }
    });
    source.addEventListener("dropped", (message) => {
      view.missedNow = JSON.parse(message.data).dropped;
      showMissed();
    });
  }

  $("filters").addEventListener("submit", (submitted) => {
    submitted.preventDefault();
    const topic = $("topic-filter").value.trim() || ">";
    if (!validPattern(topic)) {
      $("filter-error").textContent = "not a topic pattern (tokens, * for one, > for the rest)";
      return;
    }
    $("filter-error").textContent = "";
    view.topic = topic;
    view.plugin = $("plugin-filter").value.trim();
    renderEvents();
  });

  // -- the fleet ----------------------------------------------------------------------------

  function renderFleet(fleet) {
    const section = $("fleet-section");
    if (!fleet.fleet) { section.hidden = true; return; }
    section.hidden = false;
    $("fleet-name").textContent =
      `${fleet.fleet}: ${fleet.hosts.length} host${fleet.hosts.length === 1 ? "" : "s"}, ` +
      `this one ${fleet.host}${fleet.connected ? "" : " (NATS unreachable)"}`;
    $("fleet").querySelector("tbody").replaceChildren(...fleet.plugins.map((row) =>
      el("tr", { "data-host": row.host, "data-plugin": row.plugin, "data-state": row.state },
        el("td", {}, row.host), el("td", {}, row.plugin), el("td", { class: "state" }, row.state),
        el("td", { class: "version" }, row.version || ""),
        el("td", { class: "changed", "data-at": row.since }, ago(row.since)))));
  }

  function refreshFleet() {
    getJSON("/api/fleet").then(renderFleet).catch((error) => console.warn("hotbus dashboard:", error));
  }

  setInterval(() => {
    for (const cell of document.querySelectorAll("#plugins td.changed")) cell.textContent = ago(cell.dataset.at);
    refreshFleet();
  }, 1000);

  refresh();
  refreshFleet();
  connect();
})();
