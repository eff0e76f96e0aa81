"""A local API Gateway for WebSockets: the product's handlers on an embedded AWS emulation.

`python -m local_gateway` (or `make dev`) serves the WebSocket API, the @connections
management API and a few dev-only endpoints on one port, creates the table and queues from
`modules/websocket_api/manifest.json` in an embedded moto server, and feeds the SQS and
DynamoDB stream consumers from in-process pollers. See docs/LOCAL_GATEWAY.md.
"""

from __future__ import annotations

import sys

from tools.manifest import ROOT

__version__ = "0.1.0"

# The gateway uses the core package itself (its config parsers, ConfigError, the protocol's
# limits), so lambda_src goes on sys.path before any gateway module is imported; it is also
# where the handlers find it, as in Lambda, where the layer is on the path.
CORE_DIR = str(ROOT / "lambda_src")
if CORE_DIR not in sys.path:
    sys.path.insert(0, CORE_DIR)
