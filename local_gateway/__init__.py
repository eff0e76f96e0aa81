"""A local API Gateway for WebSockets: the product's handlers on an embedded AWS emulation.

`python -m local_gateway` (or `make dev`) serves the WebSocket API, the @connections
management API and a few dev-only endpoints on one port, creates the table and queues from
`modules/websocket_api/manifest.json` in an embedded moto server, and feeds the SQS and
DynamoDB stream consumers from in-process pollers. See docs/LOCAL_GATEWAY.md.
"""

from __future__ import annotations

__version__ = "0.1.0"
