"""Talking to the example plugins: where they are, chat helpers, and their modules by path."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from types import ModuleType

from hotbus import ChatMessage, ChatReply, Runtime
from hotbus.runtime._loading.paths import DATA_DIR

__all__ = ["CONFIG", "PLUGINS", "answer", "copy_plugins", "load_by_path", "say"]

#: The bundled example plugins, and their settings.
PLUGINS = Path(__file__).resolve().parents[2] / "plugins"
CONFIG = PLUGINS / "hotbus.toml"


async def say(runtime: Runtime, text: str, *, user: str = "ann") -> list[ChatReply]:
    """Publish ``text`` as ``user``'s chat message; the replies to it, in order."""
    message = ChatMessage(user=user, text=text)
    with runtime.bus.record(ChatReply) as recorded:
        await runtime.bus.publish(message)
        await runtime.bus.join()
    return [reply for reply in recorded.of(ChatReply) if reply.in_reply_to == message.event_id]


async def answer(runtime: Runtime, text: str, plugin: str, *, user: str = "ann") -> str:
    """The one reply of ``plugin`` to ``text`` (fails if it gives none, or several)."""
    texts = [reply.text for reply in await say(runtime, text, user=user) if reply.plugin == plugin]
    assert len(texts) == 1, f"{plugin} answered {text!r} with {texts}"
    return texts[0]


def copy_plugins(target: Path) -> Path:
    """Copy the example plugins (and their hotbus.toml) into ``target``; returns ``target``.

    Not the state a run of the examples saved beside them (``hotbus run plugins`` keeps it in
    ``plugins/.hotbus/``): each test starts from nothing."""
    shutil.copytree(
        PLUGINS,
        target,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("__pycache__", DATA_DIR),
    )
    return target


def load_by_path(path: Path) -> ModuleType:
    """Execute the module at ``path`` outside ``sys.modules`` (to read its constants)."""
    spec = importlib.util.spec_from_file_location(f"_under_test_{path.stem}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
