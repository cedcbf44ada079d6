"""The live dashboard: a bus subscriber that serves the runtime's state and events over HTTP.

`server.Dashboard` is the entry point (``hotbus.Dashboard``); the web stack (starlette and
uvicorn, the ``dashboard`` extra) is imported only when it starts serving.
"""
