"""Delivery: getting one frame to many connections.

`dispatch` is the only entry point: it picks the direct path (`broadcast`, posting through
the @connections client) or the SQS fan-out path (`fanout` jobs run by the worker), and
prunes the connections that turn out to be gone. `publish` is server-side publishing from
backends, which delivers through the same dispatcher.
"""
