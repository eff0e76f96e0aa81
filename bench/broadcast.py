"""Broadcast benchmark: one message to N members, three implementations, one sender process each.

Each (implementation, N, latency) runs in a fresh sender process (`python -m bench.broadcast
--impl ...`) against the endpoint process of `bench.endpoint`:

- `boto3_sequential`: the AWS samples' plain loop of `post_to_connection` on a default client.
- `boto3_threadpool`: the project's engine (`Broadcaster` -> `ManagementClient.post_many`)
  over `Boto3Transport`, 32 threads: the direct port of `Promise.allSettled`.
- `project`: the same engine over the default transport (`FastTransport`, 64 connections).

The sender is warmed first (clients built, connections opened by a broadcast to 64 other
ids), as in a warm Lambda container; then the measured broadcast runs `repeat` times.
`wall_s` and `cpu_s` (the sender process's CPU time, all threads: `time.process_time`) are
the medians of the repeats; `delivered` is what the endpoint counted during the last one.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

IMPLS = ("boto3_sequential", "boto3_threadpool", "project")
FRAME = json.dumps(
    {
        "type": "message",
        "roomId": "lobby",
        "messageId": "01JDZ8Q4W5X6Y7Z8A9B0C1D2E3",
        "userId": "alice",
        "data": {"text": "hello, room: a benchmark message of a typical chat size"},
        "sentAt": "2026-11-28T05:30:00.000Z",
    },
    separators=(",", ":"),
).encode()


def connection_ids(n: int, prefix: str) -> list[str]:
    """API Gateway-like ids (base64 with padding, so the path needs encoding)."""
    return [f"{prefix}{i:07d}Ab=" for i in range(n)]


def endpoint_stats(endpoint: str) -> dict[str, Any]:
    base = endpoint.rsplit("/", 1)[0]
    with urllib.request.urlopen(f"{base}/_stats", timeout=10) as resp:  # noqa: S310 - local
        data: dict[str, Any] = json.loads(resp.read())
        return data


def sender(impl: str, endpoint: str) -> Callable[[list[str]], object]:
    """A function that broadcasts FRAME to a list of ids with the named implementation."""
    if impl == "boto3_sequential":
        import boto3
        from botocore.exceptions import ClientError

        client = boto3.client("apigatewaymanagementapi", endpoint_url=endpoint)

        def loop(ids: list[str]) -> object:
            for cid in ids:
                try:  # noqa: SIM105 - the samples' loop, as written there
                    client.post_to_connection(ConnectionId=cid, Data=FRAME)
                except ClientError:
                    pass  # the samples delete gone connections here
            return None

        return loop

    from wscore.aws.management import Boto3Transport, ManagementClient, management_client
    from wscore.delivery.broadcast import Broadcaster

    if impl == "boto3_threadpool":
        mc = ManagementClient(Boto3Transport(endpoint), endpoint)
    elif impl == "project":
        mc = management_client(endpoint)
    else:
        raise SystemExit(f"unknown implementation {impl!r}")
    broadcaster = Broadcaster(lambda _endpoint: mc)
    return lambda ids: broadcaster.deliver(endpoint, ids, FRAME, kind="message")


def measure(impl: str, endpoint: str, members: int, repeat: int) -> dict[str, Any]:
    send = sender(impl, endpoint)
    send(connection_ids(min(64, members), "warm"))
    walls: list[float] = []
    cpus: list[float] = []
    delivered = 0
    for run in range(repeat):
        ids = connection_ids(members, f"r{run}x")
        before = endpoint_stats(endpoint)["posts"]
        wall0, cpu0 = time.perf_counter(), time.process_time()
        send(ids)
        walls.append(time.perf_counter() - wall0)
        cpus.append(time.process_time() - cpu0)
        delivered = endpoint_stats(endpoint)["posts"] - before
    return {
        "impl": impl,
        "members": members,
        "wall_s": round(statistics.median(walls), 4),
        "cpu_s": round(statistics.median(cpus), 4),
        "delivered": delivered,
        "runs": len(walls),
        "wall_runs_s": [round(w, 4) for w in walls],
        "cpu_runs_s": [round(c, 4) for c in cpus],
    }


def profile(impl: str, endpoint: str, members: int, out: str) -> None:
    """cProfile of one measured broadcast: the calling thread and the transport loop thread.

    For `project` the work happens in the transport's event-loop thread, so a profiler is
    enabled there too and both are merged. For boto3 implementations use
    `boto3_sequential`, which does all its work in the calling thread.
    """
    import cProfile
    import io
    import pstats
    import threading

    send = sender(impl, endpoint)
    send(connection_ids(min(64, members), "warm"))
    main_prof, loop_prof = cProfile.Profile(), cProfile.Profile()
    ready = threading.Event()
    loop = None

    def switch(on: bool) -> None:
        if on:
            loop_prof.enable()
        else:
            loop_prof.disable()
        ready.set()

    if impl == "project":
        from wscore.aws.fast_transport import event_loop

        loop = event_loop()
        loop.call_soon_threadsafe(switch, True)
        ready.wait(10)
    main_prof.enable()
    send(connection_ids(members, "prof"))
    main_prof.disable()
    if loop is not None:
        ready.clear()
        loop.call_soon_threadsafe(switch, False)
        ready.wait(10)
    text = io.StringIO()
    stats = pstats.Stats(main_prof, stream=text)
    if loop is not None:
        stats.add(loop_prof)
    stats.sort_stats("tottime").print_stats(25)
    Path(out).write_text(text.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description="one broadcast measurement (a sender process)")
    parser.add_argument("--impl", choices=IMPLS, required=True)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--members", type=int, required=True)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--profile", metavar="FILE", help="write a cProfile summary instead")
    args = parser.parse_args()
    if args.profile:
        profile(args.impl, args.endpoint, args.members, args.profile)
        return
    result = measure(args.impl, args.endpoint, args.members, args.repeat)
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
