"""`make publish`: server-side publish through a running local gateway, one line of output.

    python -m local_gateway.publish --tenant acme --room lobby --event alert --data '{"x":1}'

It POSTs the publish payload to `/{stage}/_dev/publish`, which invokes the publish function
exactly as a backend's `lambda:InvokeFunction` would. Exit status: 0 delivered, 1 rejected
or failed, 2 bad usage (bad JSON, no target), 3 no gateway running.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from typing import Any

from local_gateway.config import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    DEFAULT_STAGE,
    client_host,
    make_settings,
)

USAGE = "usage: make -s publish TENANT=t (ROOM=r|USER=u|ALL=1) EVENT=name DATA='<json>'"


def build_payload(args: argparse.Namespace) -> dict[str, Any]:
    """The publish function's payload; raises ValueError with a user-facing message."""
    if not args.tenant:
        raise ValueError("TENANT is required")
    chosen = [t for t in (args.room, args.user, args.all) if t]
    if len(chosen) != 1:
        raise ValueError("give exactly one target: ROOM=<room>, USER=<user> or ALL=1")
    if not args.event:
        raise ValueError("EVENT is required")
    if not args.data.strip():
        raise ValueError("DATA is required: any JSON value, e.g. DATA='{\"n\":1}'")
    try:
        data = json.loads(args.data)
    except ValueError as exc:
        raise ValueError(f"DATA is not valid JSON ({exc}): {args.data!r}") from None
    if args.room:
        target: dict[str, Any] = {"roomId": args.room}
    elif args.user:
        target = {"userId": args.user}
    else:
        target = {"tenant": True}
    return {"tenantId": args.tenant, "target": target, "event": args.event, "data": data}


def post(url: str, payload: dict[str, Any], timeout: float = 30.0) -> tuple[int, Any]:
    request = urllib.request.Request(  # noqa: S310 - a local http URL built from HOST/PORT
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        body = exc.read()
        try:
            return exc.code, json.loads(body)
        except ValueError:
            return exc.code, body.decode(errors="replace")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenant", default="")
    parser.add_argument("--room", default="")
    parser.add_argument("--user", default="")
    parser.add_argument("--all", action="store_true")
    parser.add_argument("--event", default="")
    parser.add_argument("--data", default="")
    args = parser.parse_args(argv)
    try:
        payload = build_payload(args)
    except ValueError as exc:
        print(f"publish: {exc} ({USAGE})", file=sys.stderr)
        return 2
    host = client_host(os.environ.get("HOST", DEFAULT_HOST).strip())
    port = os.environ.get("PORT", "").strip() or str(DEFAULT_PORT)
    stage = os.environ.get("STAGE", "").strip() or DEFAULT_STAGE
    base = f"http://{host}:{port}"
    url = f"{base}/{stage}/_dev/publish"
    try:
        status, result = post(url, payload)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        start = " ".join(filter(None, [make_settings(host, int(port), stage), "make dev"]))
        print(
            f"publish: no local gateway at {base} ({reason}); start it with `{start}`",
            file=sys.stderr,
        )
        return 3
    line = json.dumps(result, separators=(",", ":"))
    ok = status == 200 and isinstance(result, dict) and result.get("ok", True) is not False
    if not ok:
        print(f"publish failed (HTTP {status}): {line}", file=sys.stderr)
        return 1
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
