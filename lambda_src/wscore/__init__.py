"""Core package of the serverless WebSocket platform (shipped in the Lambda layer).

Handlers stay thin: they parse the event into a typed view (`events`), call the services
of this package and turn domain errors into protocol frames (`protocol`) at the edge.
"""

from __future__ import annotations

__version__ = "0.1.0"
