"""Mint a JWT for the local gateway, signed with the local development secret.

The secret below is public on purpose: the authorizer accepts it only with DEV_MODE=true,
which nothing but the local gateway sets.
"""

from __future__ import annotations

import argparse
import sys
import time

import jwt

DEV_SECRET = "local-development-secret-do-not-use-in-production-0123456789"  # noqa: S105 - public by design, see above
DEV_ISSUER = "https://local.dev/ws"
DEV_AUDIENCE = "ws-local"
TOKEN_LIFETIME_S = 3600


def mint(
    user: str,
    tenant: str,
    *,
    rooms: list[str] | None = None,
    roles: list[str] | None = None,
    rate_limit: dict[str, object] | None = None,
    lifetime_s: int = TOKEN_LIFETIME_S,
    now: int | None = None,
) -> str:
    """Return an HS256 token with the claims the dev authorizer requires (`rate_limit`: the
    tenant's own sendMessage limit, `{"perSecond": n, "burst": n}`)."""
    issued = int(time.time()) if now is None else now
    claims: dict[str, object] = {
        "sub": user,
        "tenant_id": tenant,
        "iss": DEV_ISSUER,
        "aud": DEV_AUDIENCE,
        "iat": issued,
        "exp": issued + lifetime_s,
    }
    if rooms:
        claims["rooms"] = rooms
    if roles:
        claims["roles"] = roles
    if rate_limit is not None:
        claims["rate_limit"] = rate_limit
    return jwt.encode(claims, DEV_SECRET, algorithm="HS256")


def _shown(value: str, limit: int = 32) -> str:
    """A value quoted for a message, cut (with its length) when long."""
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}... ({len(value)} characters)"


def invalid_ids(user: str, tenant: str) -> str | None:
    """Why the authorizer would refuse a token for these ids (its rule, wscore.protocol.ID_RE),
    or None. `mint` itself does not check, so that tests can mint refused tokens."""
    from wscore.protocol import ID_RE, ID_RULE

    bad = [
        f"{name} {_shown(value)}"
        for name, value in (("user", user), ("tenant", tenant))
        if not ID_RE.fullmatch(value)
    ]
    return f"{' and '.join(bad)} not allowed: ids are {ID_RULE}" if bad else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--user", required=True)
    parser.add_argument("--tenant", required=True)
    parser.add_argument("--rooms", default="", help="comma-separated room patterns")
    parser.add_argument("--roles", default="", help="comma-separated roles")
    args = parser.parse_args(argv)
    if not args.user.strip() or not args.tenant.strip():
        print("usage: make -s token USER=<user> TENANT=<tenant> [ROOMS='a,b-*']", file=sys.stderr)
        return 2
    refused = invalid_ids(args.user.strip(), args.tenant.strip())
    if refused:
        print(f"token: {refused}", file=sys.stderr)
        return 2
    rooms = [r.strip() for r in args.rooms.split(",") if r.strip()]
    roles = [r.strip() for r in args.roles.split(",") if r.strip()]
    print(mint(args.user.strip(), args.tenant.strip(), rooms=rooms, roles=roles))
    return 0


if __name__ == "__main__":
    sys.exit(main())
