"""Local gateway capacity: connections held, delivery latency in a 100-member room.

The gateway (`python -m local_gateway`) runs in its own process with the real handlers;
the clients run in another process (`python -m bench.gateway_capacity --clients ...`):

1. `held` idle connections are opened (authorizer + $connect each) and kept open;
2. `members` connections join one room;
3. one member sends `sendMessage` at `rate` per second (default 1) for `duration` seconds, each
   message carrying its send time; every other member records receive - send.

Reported: connections held (open at the end), p50/p99/max delivery latency, delivered vs
expected. On a laptop this measures the emulator (moto + in-process handlers), not AWS:
it tells whether `make dev` keeps up with a demo-sized load.

`--scenario storm` (`run_storm`) measures a large room and the isolation of route
invocations, with the default FANOUT_THRESHOLD (100):

1. `members` connections of distinct users (tenant `storm`) send joinRoom at the same
   instant: `join_s` until every ack (each join is announced to everyone already there);
2. one message to the room: `message_s` until all other members have it;
3. every member but one watcher closes at once (a $disconnect each, announcing the leave
   to the rest of the room) while a client of another tenant sends heartbeats one after
   the other: their round trips during the storm (p50/p99/max) against a quiet baseline,
   and `drain_s` until the watcher has seen every leave.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

from tools.manifest import ROOT

if TYPE_CHECKING:
    from collections.abc import Iterator

ROOM = "capacity"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def open_client(url: str, user: str) -> Any:
    from websockets.asyncio.client import connect

    from tools.devtoken import mint

    return await connect(f"{url}?token={mint(user, 'bench')}", max_queue=None, open_timeout=30)


async def clients(
    url: str, members: int, held: int, rate: float, duration: float
) -> dict[str, Any]:
    gate = asyncio.Semaphore(16)

    async def opened(user: str) -> Any:
        async with gate:
            try:
                return await open_client(url, user)
            except Exception:  # a refused or timed-out connect counts as not held
                return None

    t0 = time.perf_counter()
    idle = [c for c in await asyncio.gather(*(opened(f"idle{i}") for i in range(held))) if c]
    connect_s = time.perf_counter() - t0
    room = [c for c in await asyncio.gather(*(opened(f"m{i}") for i in range(members))) if c]

    async def join(ws: Any) -> None:
        async with gate:
            await ws.send(json.dumps({"action": "joinRoom", "roomId": ROOM}))
            while True:  # presence events of earlier joiners may come first
                frame = json.loads(await ws.recv())
                if frame.get("type") in ("ack", "error"):
                    return

    t1 = time.perf_counter()
    await asyncio.gather(*(join(ws) for ws in room))
    join_s = time.perf_counter() - t1
    latencies: list[float] = []
    sent = 0

    async def receive(ws: Any) -> None:
        with contextlib.suppress(Exception):
            async for raw in ws:
                frame = json.loads(raw)
                data = frame.get("data")
                if frame.get("type") == "message" and isinstance(data, dict) and "ns" in data:
                    latencies.append((time.time_ns() - data["ns"]) / 1e6)

    sender, receivers = room[0], room[1:]
    tasks = [asyncio.create_task(receive(ws)) for ws in receivers]
    start = time.perf_counter()
    while time.perf_counter() - start < duration:
        payload = {"ns": time.time_ns(), "seq": sent}
        await sender.send(json.dumps({"action": "sendMessage", "roomId": ROOM, "data": payload}))
        sent += 1
        next_at = start + sent / rate
        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
    expected = sent * len(receivers)
    deadline = time.perf_counter() + 10
    while len(latencies) < expected and time.perf_counter() < deadline:
        await asyncio.sleep(0.1)
    still_open = sum(1 for ws in idle + room if ws.state.name == "OPEN")
    for task in tasks:
        task.cancel()
    await asyncio.gather(*(ws.close() for ws in idle + room), return_exceptions=True)
    return {
        "connections_requested": held + members,
        "connections_held": still_open,
        "idle_connect_s": round(connect_s, 2),
        "room_join_s": round(join_s, 2),
        "room_members": len(room),
        "rate_per_s": rate,
        "duration_s": duration,
        "messages_sent": sent,
        "deliveries_expected": expected,
        "deliveries_received": len(latencies),
        "latency_p50_ms": round(percentile(latencies, 0.5), 1),
        "latency_p99_ms": round(percentile(latencies, 0.99), 1),
        "latency_max_ms": round(max(latencies, default=0.0), 1),
        "latency_mean_ms": round(statistics.fmean(latencies), 1) if latencies else 0.0,
    }


async def _reply(ws: Any) -> dict[str, Any]:
    """The next ack or error frame (presence and other events before it are skipped)."""
    while True:
        frame: dict[str, Any] = json.loads(await ws.recv())
        if frame.get("type") in ("ack", "error"):
            return frame


async def _heartbeats(ws: Any, stop: asyncio.Event) -> list[float]:
    """Round trips (ms) of heartbeats sent one after the other until `stop` is set."""
    rtts: list[float] = []
    while not stop.is_set():
        started = time.perf_counter()
        await ws.send(json.dumps({"action": "heartbeat", "requestId": str(len(rtts))}))
        await _reply(ws)
        rtts.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(0.05)
    return rtts


def _rtt_stats(prefix: str, rtts: list[float]) -> dict[str, Any]:
    return {
        f"{prefix}_heartbeats": len(rtts),
        f"{prefix}_rtt_p50_ms": round(percentile(rtts, 0.5), 1),
        f"{prefix}_rtt_p99_ms": round(percentile(rtts, 0.99), 1),
        f"{prefix}_rtt_max_ms": round(max(rtts, default=0.0), 1),
    }


async def storm_clients(url: str, members: int, timeout: float = 300.0) -> dict[str, Any]:
    """The large-room and disconnect-storm scenario (see the module docstring)."""
    gate = asyncio.Semaphore(16)

    async def opened(user: str, tenant: str) -> Any:
        from websockets.asyncio.client import connect

        from tools.devtoken import mint

        async with gate:
            return await connect(f"{url}?token={mint(user, tenant)}", max_queue=None)

    room = list(await asyncio.gather(*(opened(f"m{i}", "storm") for i in range(members))))
    other = await opened("bystander", "other-tenant")
    joined = time.perf_counter()
    await asyncio.gather(
        *(
            ws.send(json.dumps({"action": "joinRoom", "roomId": ROOM, "requestId": "j"}))
            for ws in room
        )
    )
    acks = await asyncio.wait_for(asyncio.gather(*(_reply(ws) for ws in room)), timeout)
    join_s = time.perf_counter() - joined
    assert all(a["type"] == "ack" for a in acks), [a for a in acks if a["type"] != "ack"][:1]
    watcher, sender, leaving = room[0], room[1], room[1:]
    # Drain the join announcements so the next frames are the message and the leaves.
    await asyncio.sleep(1.0)

    async def message_arrives(ws: Any) -> None:
        while json.loads(await ws.recv()).get("type") != "message":
            pass

    waiting = [asyncio.create_task(message_arrives(ws)) for ws in room if ws is not sender]
    sent = time.perf_counter()
    await sender.send(json.dumps({"action": "sendMessage", "roomId": ROOM, "data": "hi"}))
    await asyncio.wait_for(asyncio.gather(*waiting), timeout)
    message_s = time.perf_counter() - sent

    quiet = asyncio.Event()
    baseline = asyncio.create_task(_heartbeats(other, quiet))
    await asyncio.sleep(3.0)
    quiet.set()
    baseline_rtts = await baseline

    async def leaves_seen() -> None:
        seen = 0
        while seen < len(leaving):
            frame = json.loads(await watcher.recv())
            if frame.get("type") == "presence" and frame.get("event") == "leave":
                seen += 1

    storm_over = asyncio.Event()
    during = asyncio.create_task(_heartbeats(other, storm_over))
    drained = asyncio.create_task(leaves_seen())
    started = time.perf_counter()
    await asyncio.gather(*(ws.close() for ws in leaving))
    await asyncio.wait_for(drained, timeout)
    drain_s = time.perf_counter() - started
    storm_over.set()
    storm_rtts = await during
    await asyncio.gather(watcher.close(), other.close())
    return {
        "room_members": members,
        "join_s": round(join_s, 2),
        "message_s": round(message_s, 2),
        "drain_s": round(drain_s, 2),
        **_rtt_stats("baseline", baseline_rtts),
        **_rtt_stats("storm", storm_rtts),
    }


# The scenarios send faster than the default limits allow: the limits stay on (their check
# is part of what is measured) but out of reach, so no message is refused.
UNREACHABLE_RATE_LIMITS = {
    f"RATE_LIMIT_{scope}_{name}": value
    for scope in ("CONNECTION", "TENANT")
    for name, value in (("PER_SECOND", "1000"), ("BURST", "100000"))
}


class GatewayError(Exception):
    """The local gateway or the client process failed; the message says how."""


@contextlib.contextmanager
def local_gateway() -> Iterator[tuple[str, dict[str, str]]]:
    """`python -m local_gateway` in its own process: (WebSocket URL, environment)."""
    if not (ROOT / "local_gateway" / "__main__.py").exists():
        raise GatewayError("pending: local_gateway is not on this branch yet")
    port = free_port()
    env = dict(os.environ)
    env.update({"PORT": str(port), "HOST": "127.0.0.1", "STAGE": "dev"})
    env.update({"GATEWAY_LOG_LEVEL": "WARNING", "LOG_LEVEL": "WARNING"})
    env.update(UNREACHABLE_RATE_LIMITS)
    gateway = subprocess.Popen(
        [sys.executable, "-m", "local_gateway"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert gateway.stdout is not None
        url = ""
        for line in gateway.stdout:
            if line.startswith("Local gateway ready:"):
                url = line.split(":", 1)[1].strip()
                break
        if not url:
            raise GatewayError(f"error: the gateway did not start (exit {gateway.poll()})")
        yield url, env
    finally:
        gateway.terminate()
        try:
            gateway.wait(30)
        except subprocess.TimeoutExpired:
            gateway.kill()


def client_result(module: str, args: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run `python -m module --clients ...` and return its RESULT line."""
    cmd = [sys.executable, "-m", module, "--clients", *args]
    out = subprocess.run(  # noqa: S603 - our own client module
        cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")]
    if not lines:
        raise GatewayError("error: " + (out.stderr.strip().splitlines() or ["no output"])[-1])
    result: dict[str, Any] = json.loads(lines[-1][len("RESULT ") :])
    return result


def measure(module: str, args: list[str]) -> dict[str, Any]:
    """Start a gateway, run `module`'s client side against it with `args`, stop it."""
    try:
        with local_gateway() as (url, env):
            result = client_result(module, ["--url", url, *args], env)
    except GatewayError as exc:
        return {"status": str(exc)}
    result["status"] = "measured"
    result["management_transport"] = env.get("MANAGEMENT_TRANSPORT", "fast")
    return result


def run_storm(members: int = 150) -> dict[str, Any]:
    """The large-room and disconnect-storm scenario against a fresh gateway."""
    return measure("bench.gateway_capacity", ["--scenario", "storm", "--members", str(members)])


def run(
    members: int = 100, held: int = 400, rate: float = 1.0, duration: float = 10.0
) -> dict[str, Any]:
    """Start the gateway, drive it from a client process, stop it; return the figures."""
    args = ["--members", str(members), "--held", str(held), "--rate", str(rate)]
    return measure("bench.gateway_capacity", [*args, "--duration", str(duration)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", action="store_true", help="run the client side only")
    parser.add_argument("--url", default="")
    parser.add_argument("--members", type=int, default=100)
    parser.add_argument("--held", type=int, default=400)
    parser.add_argument("--rate", type=float, default=1.0)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--scenario", choices=["capacity", "storm"], default="capacity")
    args = parser.parse_args()
    storm = args.scenario == "storm"
    if args.clients and storm:
        result = asyncio.run(storm_clients(args.url, args.members))
        print("RESULT " + json.dumps(result), flush=True)
    elif args.clients:
        result = asyncio.run(clients(args.url, args.members, args.held, args.rate, args.duration))
        print("RESULT " + json.dumps(result), flush=True)
    elif storm:
        print(json.dumps(run_storm(args.members), indent=2))
    else:
        print(json.dumps(run(args.members, args.held, args.rate, args.duration), indent=2))


if __name__ == "__main__":
    main()
