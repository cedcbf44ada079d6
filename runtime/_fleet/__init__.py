"""The fleet: hosts of one bot sharing their lifecycle events over NATS JetStream.

`nats-py` is imported only when a bridge or a fleet command connects (the ``nats`` extra).
"""
