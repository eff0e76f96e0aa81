"""When to refresh a connection's token in-band (protocol v1.1 ``refreshToken``).

The server checks a token at connect and closes the connection once it expires; sending a
fresh one before then keeps the connection (and its rooms and sequence positions) instead of
reconnecting. The expiry is read from the JWT itself, unverified: the client only needs to
know when, the server decides whether. Same rule as the JavaScript client.
"""

from __future__ import annotations

import base64
import json
from typing import Final

TOKEN_REFRESH_LEAD_S: Final = 60.0
TOKEN_REFRESH_FRACTION: Final = 0.8


def jwt_expiry(token: str) -> float | None:
    """The ``exp`` claim (epoch seconds) of a JWT, read without verifying; None if absent."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:  # binascii.Error, UnicodeDecodeError and JSONDecodeError included
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        return None
    return float(exp)


def refresh_time(exp: float, start: float) -> float:
    """When to refresh a token obtained at ``start`` that expires at ``exp`` (epoch seconds).

    TOKEN_REFRESH_LEAD_S before expiry or at TOKEN_REFRESH_FRACTION of the lifetime,
    whichever is sooner, but never before half the lifetime: a token that lives less than
    twice the lead would otherwise be refreshed again at once, in a loop.
    """
    lifetime = max(0.0, exp - start)
    at = min(exp - TOKEN_REFRESH_LEAD_S, start + TOKEN_REFRESH_FRACTION * lifetime)
    return max(at, start + lifetime / 2)
