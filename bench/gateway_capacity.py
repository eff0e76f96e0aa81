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

`--scenario storm` (`run_storm`, `--members N`, default 150) measures a large room's
presence, with the default FANOUT_THRESHOLD (100), PRESENCE_COALESCE_THRESHOLD (100) and
PRESENCE_INTERVAL_SECONDS (2), against the metered gateway (`bench.gateway_meter`):

1. N connections of distinct users (tenant `storm`) are opened; one of them, the watcher,
   joins the room alone;
2. the join storm: the other N - 1 send joinRoom at the same instant;
3. one message to the room: `message_s` until all other members have it;
4. the leave storm: those N - 1 close at once (a $disconnect each).

Each storm reports `wall_s`, until the watcher has been told of every one of the N - 1
users (by v1 `join`/`leave` frames or the `joined`/`left` lists of coalesced frames:
users are counted, not frames) and, for the join storm, every ack has come (`acks_s`,
until the last ack; `closed_s` for the leave storm's closes); the round trips of the
heartbeats a client of another tenant sends one after the other meanwhile
(`heartbeat_rtt_*`, against `baseline_rtt_*` on the quiet gateway before); and, from the
meter's counts between the storm's start and the moment the gateway has settled (nothing
running, posted or invoked for the presence interval + 2 s: delayed flushes included),
the presence frames posted, all posts, the handlers' DynamoDB requests (by operation) and
their read and write units computed from item sizes, and the Lambda time (the sum of the
handlers' durations, by function). `storm_targets` checks the issue's targets.
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

from bench.gateway_meter import METER_PATH, presence_users, read_meter
from tools.manifest import ROOT

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterator

ROOM = "capacity"
STORM_MEMBERS = (50, 150, 500)  # room sizes `make bench` storms
STORM_TIMEOUT_S = 900.0  # one storm phase, and the gateway settling after it
HEARTBEAT = "heartbeat"  # the function the bystander's heartbeats invoke


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


async def _heartbeats(
    ws: Any, stop: asyncio.Event, rtts: list[float] | None = None, sent: list[float] | None = None
) -> list[float]:
    """Round trips (ms) of heartbeats sent one after the other until `stop` is set,
    appended to `rtts`; `sent` holds the send time of the one awaiting its answer."""
    rtts = [] if rtts is None else rtts
    sent = [] if sent is None else sent
    while not stop.is_set():
        sent[:] = [time.perf_counter()]
        await ws.send(json.dumps({"action": "heartbeat", "requestId": str(len(rtts))}))
        await _reply(ws)
        rtts.append((time.perf_counter() - sent.pop()) * 1000)
        await asyncio.sleep(0.05)
    return rtts


def _rtt_stats(prefix: str, rtts: list[float]) -> dict[str, Any]:
    return {
        f"{prefix}_heartbeats": len(rtts),
        f"{prefix}_rtt_p50_ms": round(percentile(rtts, 0.5), 1),
        f"{prefix}_rtt_p99_ms": round(percentile(rtts, 0.99), 1),
        f"{prefix}_rtt_max_ms": round(max(rtts, default=0.0), 1),
    }


def meter_url(ws_url: str) -> str:
    """The metered gateway's meter (bench.gateway_meter) beside its WebSocket URL."""
    base = ws_url.split("?", 1)[0].replace("ws://", "http://", 1).rsplit("/", 1)[0]
    return base + METER_PATH


def meter_delta(
    before: dict[str, Any], after: dict[str, Any], factor: float = 1.0
) -> dict[str, Any]:
    """What happened between two meter snapshots: (after - before) x factor, group by
    group (a group or key missing from `after` counts as 0)."""
    out: dict[str, Any] = {}
    for group in after.keys() | before.keys():
        values, prior = after.get(group, {}), before.get(group, {})
        changed = (k for k in values.keys() | prior.keys() if values.get(k, 0) != prior.get(k, 0))
        out[group] = {k: _scaled(values.get(k, 0) - prior.get(k, 0), factor) for k in changed}
    return out


def _scaled(value: float, factor: float) -> float:
    return value if factor == 1 else value * factor  # counts stay whole numbers


def bystander_cost(
    spent: dict[str, Any], per_heartbeat: dict[str, Any], heartbeats: int
) -> dict[str, Any]:
    """What the bystander's `heartbeats` added to a phase's meter delta `spent`: the
    heartbeat function's invocations as `spent` has them, and `heartbeats` times the
    DynamoDB requests and units of one heartbeat (`per_heartbeat`, measured quiet)."""
    cost = meter_delta({}, per_heartbeat, heartbeats)
    for group in ("lambda_started", "lambda_invocations", "lambda_seconds"):
        cost[group] = {HEARTBEAT: spent.get(group, {}).get(HEARTBEAT, 0)}
    return cost


def phase_figures(spent: dict[str, Any], bystander: dict[str, Any]) -> dict[str, Any]:
    """A phase's cost: its meter delta `spent` less the `bystander`'s. DynamoDB figures
    leave out the gateway's TTL sweeper (its `Scan`s): they are the handlers' requests."""
    delta = meter_delta(bystander, spent)
    posts, failed = delta.get("posts", {}), delta.get("posts_failed", {})
    requests = {op: n for op, n in delta.get("dynamodb_requests", {}).items() if op != "Scan"}
    units = delta.get("dynamodb_units", {})
    seconds, calls = delta.get("lambda_seconds", {}), delta.get("lambda_invocations", {})
    gone = sum(n for kind, n in failed.items() if kind.startswith("presence "))
    return {
        "presence_posts": posts.get("presence", 0),
        "presence_posts_delivered": posts.get("presence", 0) - gone,
        "presence_users_posted": delta.get("presence_users", {}).get("total", 0),
        "posts": sum(posts.values()),
        "posts_failed": sum(failed.values()),
        "dynamodb_requests": round(sum(requests.values())),
        "read_units": round(units.get("read", 0.0), 1),
        "write_units": round(units.get("write", 0.0), 1),
        "lambda_s": round(sum(seconds.values()), 2),
        "invocations": sum(calls.values()),
        "dynamodb_by_operation": {op: round(n) for op, n in sorted(requests.items()) if n},
        "lambda_by_function": {
            fn: {"invocations": calls.get(fn, 0), "s": round(seconds.get(fn, 0.0), 2)}
            for fn in sorted(set(calls) | set(seconds))
        },
    }


def _activity(snapshot: dict[str, Any]) -> tuple[float, ...]:
    return tuple(
        sum(snapshot.get(group, {}).values())
        for group in ("posts", "posts_failed", "lambda_started", "lambda_invocations")
    )


async def settle(meter: str, quiet_s: float, timeout: float) -> dict[str, Any]:
    """The meter once nothing runs and nothing was posted or invoked for `quiet_s` (a
    delayed presence flush, the stream consumer): the snapshot that closes a phase."""
    deadline = time.perf_counter() + timeout
    last: tuple[float, ...] = ()
    quiet_since = time.perf_counter()
    while True:
        snapshot = await asyncio.to_thread(read_meter, meter)
        now, activity = time.perf_counter(), _activity(snapshot)
        running = activity[2] - activity[3]
        if activity != last or running:
            last, quiet_since = activity, now
        elif now - quiet_since >= quiet_s or now > deadline:
            return snapshot
        await asyncio.sleep(0.5)


async def watch_presence(ws: Any, expected: set[str], side: int) -> None:
    """Read `ws` until every user of `expected` has been announced as joined (side 0) or
    left (side 1), by v1 frames or coalesced ones (users are counted, not frames)."""
    missing = set(expected)
    while missing:
        frame = json.loads(await ws.recv())
        if frame.get("type") == "presence":
            missing.difference_update(presence_users(frame)[side])


async def storm(
    meter: str,
    bystander: Any,
    per_heartbeat: dict[str, Any],
    action: Callable[[], Awaitable[float]],
    watched: Awaitable[None],
) -> dict[str, Any]:
    """One storm: `action` (returns its own time, s) while the watcher waits for every
    announcement and `bystander` sends heartbeats; then its cost (the heartbeats' taken
    out), once the gateway settles. A storm not over within `phase_timeout()` is cut
    there (`finished` false): its counts are those of that moment."""
    before = await asyncio.to_thread(read_meter, meter)
    stop, rtts, sent = asyncio.Event(), list[float](), list[float]()
    heartbeats = asyncio.create_task(_heartbeats(bystander, stop, rtts, sent))
    started = time.perf_counter()
    done = asyncio.gather(action(), watched)
    try:
        action_s, _ = await asyncio.wait_for(done, phase_timeout())
        finished = True
    except TimeoutError:
        action_s, finished = time.perf_counter() - started, False
    wall_s = time.perf_counter() - started
    stop.set()
    if finished:
        await heartbeats
        after = await settle(meter, presence_interval() + 2.0, STORM_TIMEOUT_S)
    else:
        await _cut(heartbeats, rtts, sent)
        after = await asyncio.to_thread(read_meter, meter)
    spent = meter_delta(before, after)
    return {
        "finished": finished,
        "wall_s": round(wall_s, 2),
        "action_s": round(action_s, 2),
        **phase_figures(spent, bystander_cost(spent, per_heartbeat, len(rtts))),
        **_rtt_stats("heartbeat", rtts),
    }


async def _cut(heartbeats: asyncio.Task[list[float]], rtts: list[float], sent: list[float]) -> None:
    """Stop a heartbeat loop whose storm was cut: a heartbeat still unanswered after 5 s
    more is counted as long as it has waited (a lower bound)."""
    try:
        await asyncio.wait_for(asyncio.shield(heartbeats), 5.0)
    except TimeoutError:
        heartbeats.cancel()
        rtts.extend((time.perf_counter() - t) * 1000 for t in sent)


def phase_timeout() -> float:
    """How long one storm may run (STORM_PHASE_TIMEOUT_S, default STORM_TIMEOUT_S)."""
    return float(os.environ.get("STORM_PHASE_TIMEOUT_S", STORM_TIMEOUT_S))


async def storm_clients(url: str, members: int) -> dict[str, Any]:
    """The join storm, one message, the leave storm (see the module docstring)."""
    gate = asyncio.Semaphore(16)
    meter = meter_url(url)

    async def opened(user: str, tenant: str) -> Any:
        from websockets.asyncio.client import connect

        from tools.devtoken import mint

        async with gate:
            token = mint(user, tenant, lifetime_s=7200)  # a slow storm outlives 10 min
            return await connect(f"{url}?token={token}", max_queue=None, open_timeout=120)

    room = list(await asyncio.gather(*(opened(f"m{i}", "storm") for i in range(members))))
    other = await opened("bystander", "other-tenant")
    watcher, others = room[0], room[1:]
    users = {f"m{i}" for i in range(1, members)}
    await watcher.send(json.dumps({"action": "joinRoom", "roomId": ROOM}))
    await _reply(watcher)
    await settle(meter, 1.0, STORM_TIMEOUT_S)
    quiet = asyncio.Event()
    before = await asyncio.to_thread(read_meter, meter)
    baseline = asyncio.create_task(_heartbeats(other, quiet))
    await asyncio.sleep(3.0)
    quiet.set()
    baseline_rtts = await baseline
    after = await asyncio.to_thread(read_meter, meter)
    per_heartbeat = meter_delta(before, after, 1 / len(baseline_rtts))

    async def join_all() -> float:
        started = time.perf_counter()
        body = json.dumps({"action": "joinRoom", "roomId": ROOM, "requestId": "j"})
        await asyncio.gather(*(ws.send(body) for ws in others))
        acks = await asyncio.gather(*(_reply(ws) for ws in others))
        assert all(a["type"] == "ack" for a in acks), [a for a in acks if a["type"] != "ack"][:1]
        return time.perf_counter() - started

    joins = await storm(meter, other, per_heartbeat, join_all, watch_presence(watcher, users, 0))
    result = {
        "room_members": members,
        "coalesce_threshold": coalesce_threshold(),
        "interval_s": presence_interval(),
        **_rtt_stats("baseline", baseline_rtts),
        "join": {"acks_s": joins.pop("action_s"), **joins},
    }
    if not joins["finished"]:
        result["leave"] = {"finished": False, "status": "not run: the join storm was cut"}
        return result

    async def message_arrives(ws: Any) -> None:
        while json.loads(await ws.recv()).get("type") != "message":
            pass

    sender = others[0]
    waiting = [asyncio.create_task(message_arrives(ws)) for ws in room if ws is not sender]
    sent = time.perf_counter()
    await sender.send(json.dumps({"action": "sendMessage", "roomId": ROOM, "data": "hi"}))
    await asyncio.wait_for(asyncio.gather(*waiting), STORM_TIMEOUT_S)
    message_s = time.perf_counter() - sent
    await settle(meter, presence_interval() + 2.0, STORM_TIMEOUT_S)

    async def close_all() -> float:
        started = time.perf_counter()
        await asyncio.gather(*(ws.close() for ws in others))
        return time.perf_counter() - started

    leaves = await storm(meter, other, per_heartbeat, close_all, watch_presence(watcher, users, 1))
    await asyncio.gather(watcher.close(), other.close())
    result["message_s"] = round(message_s, 2)
    result["leave"] = {"closed_s": leaves.pop("action_s"), **leaves}
    return result


def coalesce_threshold() -> int:
    """The gateway's PRESENCE_COALESCE_THRESHOLD (it inherits the bench's environment)."""
    return int(os.environ.get("PRESENCE_COALESCE_THRESHOLD", "100"))


def presence_interval() -> float:
    return float(os.environ.get("PRESENCE_INTERVAL_SECONDS", "2"))


def storm_targets(result: dict[str, Any]) -> dict[str, Any]:
    """The issue's targets for one room size: per storm, the bystander's heartbeat round
    trips under 1 s and, above the threshold T only (`above_threshold`), presence posts at
    most N x (wall time / interval) + N (`posts_bound`) once the users announced one by one
    while the room has at most T users are added: up to T^2/2 posts
    (`below_threshold_posts`). A room of at most T users is announced user by user
    (~N^2/2 posts per storm): no posts target (`posts_within_bound` None), nor for a storm
    cut by the phase timeout (`finished` false: its counts are partial; its heartbeats'
    maximum a lower bound, so only a miss is a verdict)."""
    n, threshold = result["room_members"], result["coalesce_threshold"]
    above = n > threshold
    out: dict[str, Any] = {"room_members": n, "above_threshold": above}
    for name in ("join", "leave"):
        row = result[name]
        if "wall_s" not in row:  # not run
            out[name] = {"finished": False, "heartbeat_max_under_1s": None}
            continue
        bound = n * row["wall_s"] / result["interval_s"] + n
        below = threshold * threshold // 2 if above else 0
        judged = above and row["finished"]  # a cut storm's posts and time are partial
        out[name] = {
            "finished": row["finished"],
            "presence_posts": row["presence_posts"],
            "posts_bound": round(bound) if judged else None,
            "below_threshold_posts": below if judged else None,
            "posts_within_bound": row["presence_posts"] <= bound + below if judged else None,
            "heartbeat_max_under_1s": row["heartbeat_rtt_max_ms"] < 1000,
        }
    return out


def storm_verdict(storms: dict[str, Any]) -> dict[str, Any]:
    """The targets over `run_storm` results by N: every heartbeat under 1 s; per N above
    the threshold, both storms' posts within their bound."""
    measured = {n: r["targets"] for n, r in storms.items() if "targets" in r}
    if not measured:
        return {}
    sides = ("join", "leave")
    return {
        "storm_heartbeat_under_1s": all(
            t[s]["heartbeat_max_under_1s"] is not False for t in measured.values() for s in sides
        ),
        "storm_posts_within_bound": {  # None: a storm was cut, its posts unknown
            n: _all_or_none([t[s].get("posts_within_bound") for s in sides])
            for n, t in measured.items()
            if t["above_threshold"]
        },
    }


# The scenarios send faster than the default limits allow: the limits stay on (their check
# is part of what is measured) but out of reach, so no message is refused.
UNREACHABLE_RATE_LIMITS = {
    f"RATE_LIMIT_{scope}_{name}": value
    for scope in ("CONNECTION", "TENANT")
    for name, value in (("PER_SECOND", "1000"), ("BURST", "100000"))
}


def _all_or_none(verdicts: list[bool | None]) -> bool | None:
    return None if None in verdicts else all(verdicts)


STORM_COLUMNS = (
    "N",
    "storm",
    "presence posts",
    "DynamoDB requests (R/W units)",
    "Lambda s",
    "wall s",
    "heartbeat p50/p99/max ms",
)


def storm_rows(storms: dict[str, Any]) -> list[list[str]]:
    """One row per room size and storm (STORM_COLUMNS) of `run_storm` results by N."""
    rows: list[list[str]] = []
    for n, result in storms.items():
        if result.get("status") != "measured":
            rows.append([str(n), "-", str(result.get("status")), "", "", "", ""])
            continue
        for name in ("join", "leave"):
            r = result[name]
            if "wall_s" not in r:
                rows.append([str(n), name, str(r.get("status")), "", "", "", ""])
                continue
            cut = "" if r["finished"] else " (cut)"
            rtt = "/".join(f"{r[f'heartbeat_rtt_{q}_ms']:.0f}" for q in ("p50", "p99", "max"))
            rows.append(
                [
                    str(n),
                    name,
                    str(r["presence_posts"]),
                    f"{r['dynamodb_requests']} ({r['read_units']:.0f}/{r['write_units']:.0f})",
                    f"{r['lambda_s']:.1f}",
                    f"{r['wall_s']:.1f}{cut}",
                    rtt,
                ]
            )
    return rows


class GatewayError(Exception):
    """The local gateway or the client process failed; the message says how."""


@contextlib.contextmanager
def local_gateway(metered: bool = False) -> Iterator[tuple[str, dict[str, str]]]:
    """`python -m local_gateway` in its own process: (WebSocket URL, environment). Metered:
    `python -m bench.gateway_meter`, the same gateway with counters (see that module)."""
    if not (ROOT / "local_gateway" / "__main__.py").exists():
        raise GatewayError("pending: local_gateway is not on this branch yet")
    port = free_port()
    env = dict(os.environ)
    env.update({"PORT": str(port), "HOST": "127.0.0.1", "STAGE": "dev"})
    env.update({"GATEWAY_LOG_LEVEL": "WARNING", "LOG_LEVEL": "WARNING"})
    env.update(UNREACHABLE_RATE_LIMITS)
    if metered:  # a storm's watcher only listens: no idle close (AWS: 10 min) mid-storm
        env.setdefault("GATEWAY_IDLE_TIMEOUT_S", "7200")
    module = "bench.gateway_meter" if metered else "local_gateway"
    gateway = subprocess.Popen(  # noqa: S603 - our own gateway module
        [sys.executable, "-m", module],
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


def client_result(
    module: str, args: list[str], env: dict[str, str], timeout: float = 900
) -> dict[str, Any]:
    """Run `python -m module --clients ...` and return its RESULT line."""
    cmd = [sys.executable, "-m", module, "--clients", *args]
    out = subprocess.run(  # noqa: S603 - our own client module
        cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")]
    if not lines:
        raise GatewayError("error: " + (out.stderr.strip().splitlines() or ["no output"])[-1])
    result: dict[str, Any] = json.loads(lines[-1][len("RESULT ") :])
    return result


def measure(
    module: str, args: list[str], metered: bool = False, timeout: float = 900
) -> dict[str, Any]:
    """Start a gateway, run `module`'s client side against it with `args`, stop it."""
    try:
        with local_gateway(metered) as (url, env):
            result = client_result(module, ["--url", url, *args], env, timeout)
    except GatewayError as exc:
        return {"status": str(exc)}
    result["status"] = "measured"
    result["management_transport"] = env.get("MANAGEMENT_TRANSPORT", "fast")
    return result


def run_storm(members: int = 150) -> dict[str, Any]:
    """The join and leave storms of a `members`-user room against a fresh metered gateway,
    with the issue's targets for that size (`targets`)."""
    args = ["--scenario", "storm", "--members", str(members)]
    result = measure("bench.gateway_capacity", args, metered=True, timeout=4 * STORM_TIMEOUT_S)
    if result["status"] == "measured":
        result["targets"] = storm_targets(result)
    return result


def run_storms(sizes: str = "", quick: bool = False) -> dict[str, Any]:
    """`run_storm` for each room size of a comma list ("50,150,500"), by size; none
    given: STORM_MEMBERS, or 150 alone if `quick`."""
    default = (150,) if quick else STORM_MEMBERS
    out: dict[str, Any] = {}
    for n in [int(x) for x in sizes.split(",") if x.strip()] or default:
        print(f"local gateway: join and leave storms of a {n}-user room", flush=True)
        out[str(n)] = run_storm(n)
    return out


def median_of(runs: list[Any]) -> Any:
    """The median of each number across runs of one shape (dicts are walked; other values
    are the first run's)."""
    first = runs[0]
    if isinstance(first, dict):
        return {k: median_of([r[k] for r in runs if k in r]) for k in first}
    if isinstance(first, int | float) and not isinstance(first, bool):
        return statistics.median(runs)
    return first


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
    parser.add_argument("--runs", type=int, default=1, help="storm: runs, then their medians")
    args = parser.parse_args()
    storm = args.scenario == "storm"
    if args.clients and storm:
        result = asyncio.run(storm_clients(args.url, args.members))
        print("RESULT " + json.dumps(result), flush=True)
    elif args.clients:
        result = asyncio.run(clients(args.url, args.members, args.held, args.rate, args.duration))
        print("RESULT " + json.dumps(result), flush=True)
    elif storm:
        runs = [run_storm(args.members) for _ in range(args.runs)]
        measured = [r for r in runs if r["status"] == "measured"]
        summary = {"runs": runs, "median": median_of(measured) if measured else None}
        print(json.dumps(summary if args.runs > 1 else runs[0], indent=2))
    else:
        print(json.dumps(run(args.members, args.held, args.rate, args.duration), indent=2))


if __name__ == "__main__":
    main()
