"""The ``hotbus`` command: the console chat host, ``check`` reports, ``events`` listings."""
