"""The ``hotbus`` command: the console chat host, event log lines, check reports."""
