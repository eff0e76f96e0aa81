"""`make cost`: a monthly estimate for a workload you describe, split by service.

    python -m bench.estimate --peak-connections 2000 --messages-per-second 5 --room-size 20
    python -m bench.estimate ... --history --json

What is measured and what is assumed:

- Measured, through the real handlers on moto (`bench.cost.measure_workload`, a few
  seconds): DynamoDB requests and read/write units, @connections calls, SQS requests and
  fan-out worker runs of one connect, join, send, heartbeat and disconnect in a room of the
  given size (rooms above 1,000 members are measured at 1,000 and the per-recipient counts
  scaled).
- Priced from bench/prices.json: dated list prices (region and date printed with every
  estimate).
- Assumed, and printed: session length, rooms joined per session, heartbeat interval, message
  size, Lambda durations (a base time per invocation plus the broadcast time measured in
  docs/PERFORMANCE.md), log bytes per invocation, SQS long-polling requests, X-Ray sampling.
- Message history (`--history`): modelled from the figures of the history feature, not
  measured: per persisted message one counter UpdateItem and one PutItem of at most 1 KB,
  i.e. 2 more write request units, and items kept `--history-retention-seconds` (default
  86,400) by TTL, i.e. rate x retention items of <= 1 KB stored at any time.

API Gateway's own charges (messages in and out, connection minutes) are the floor: any
WebSocket service on API Gateway pays them. The estimate shows the total against it.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tools.manifest import read_manifest

PRICES_PATH = Path(__file__).with_name("prices.json")
SECONDS_PER_MONTH = 730 * 3600  # AWS's month of 730 hours
HISTORY_WRITE_UNITS_PER_MESSAGE = 2  # counter UpdateItem + one PutItem of <= 1 KB
HISTORY_ITEM_BYTES = 1024
DEFAULT_HISTORY_RETENTION_S = 86_400

# Lambda durations (billed wall time), from docs/PERFORMANCE.md: the delivery path keeps 64
# posts in flight at ~25 ms per round trip and spends ~0.35 ms of CPU per post at 512 MB.
POSTS_IN_FLIGHT = 64
POST_RTT_MS = 25.0
POST_CPU_MS_AT_512MB = 0.35
# Lambda's SQS event source long-polls each queue with 5 pollers, 20 s per empty receive.
SQS_IDLE_POLLERS = 5
SQS_LONG_POLL_S = 20
# Broadcast metric names and kinds (wscore.delivery); authorizer outcomes (handlers).
BROADCAST_METRICS = ("targets", "delivered", "pruned", "failed", "too_large")
BROADCAST_KINDS = ("message", "presence", "event")
AUTHORIZER_METRICS = 4
# X-Ray's default sampling rule: the first request each second, then 5 %.
XRAY_RESERVOIR_PER_S = 1.0
XRAY_RATE = 0.05
# API Gateway's default account throttle per region (PostToConnection counts against it).
ACCOUNT_RPS = 10_000


@dataclass(frozen=True)
class Workload:
    """What the user describes (monthly averages) and the assumptions that fill the rest."""

    peak_connections: int = 1000
    connected_minutes: float | None = None  # per month; None: half the peak, all month
    messages_per_second: float = 1.0
    room_size: int = 10
    history: bool = False
    history_retention_seconds: int = DEFAULT_HISTORY_RETENTION_S
    session_minutes: float = 30.0
    rooms_per_session: float = 1.0
    heartbeat_minutes: float = 5.0
    message_bytes: int = 200
    handler_ms: float = 20.0
    log_bytes_per_invocation: int = 600
    architecture: str = "arm64"

    @property
    def minutes(self) -> float:
        if self.connected_minutes is not None:
            return self.connected_minutes
        return self.peak_connections * 0.5 * SECONDS_PER_MONTH / 60


@dataclass
class Line:
    service: str
    item: str
    quantity: float
    unit: str
    usd: float


@dataclass
class Estimate:
    workload: dict[str, Any]
    prices_as_of: str
    region: str
    lines: list[Line] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def by_service(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for line in self.lines:
            out[line.service] = out.get(line.service, 0.0) + line.usd
        return out

    @property
    def total(self) -> float:
        return sum(line.usd for line in self.lines)

    @property
    def floor(self) -> float:
        """API Gateway's own charges: what any WebSocket API on API Gateway pays."""
        return sum(line.usd for line in self.lines if line.service == "API Gateway")

    def as_dict(self) -> dict[str, Any]:
        return {
            "workload": self.workload,
            "prices_as_of": self.prices_as_of,
            "region": self.region,
            "lines": [asdict(line) for line in self.lines],
            "by_service": self.by_service(),
            "total_usd": self.total,
            "api_gateway_floor_usd": self.floor,
            "notes": self.notes,
        }


def load_prices(path: Path = PRICES_PATH) -> dict[str, Any]:
    prices: dict[str, Any] = json.loads(path.read_text())
    return prices


def tiered(millions: float, tiers: list[dict[str, Any]]) -> float:
    """Price of `millions` units through tiers of {first_millions, usd per million}."""
    cost, left = 0.0, millions
    for tier in tiers:
        size = tier["first_millions"]
        take = left if size is None else min(left, size)
        cost += take * tier["usd"]
        left -= take
        if left <= 0:
            break
    return cost


def _function_memory() -> dict[str, int]:
    return {name: int(f["memory_mb"]) for name, f in read_manifest()["functions"].items()}


def _duration_ms(posts: float, memory_mb: int, base_ms: float) -> float:
    """Billed wall time of one invocation that posts to `posts` connections."""
    if posts <= 0:
        return base_ms
    rounds = math.ceil(posts / POSTS_IN_FLIGHT)
    return base_ms + rounds * POST_RTT_MS + posts * POST_CPU_MS_AT_512MB * 512 / memory_mb


def estimate(  # noqa: PLR0915 - one line of the bill after another
    workload: Workload,
    measured: dict[str, dict[str, Any]],
    prices: dict[str, Any] | None = None,
) -> Estimate:
    """The monthly bill of `workload`, from per-operation counts (`measure_workload`)."""
    p = prices or load_prices()
    w = workload
    est = Estimate(asdict(w) | {"connected_minutes": w.minutes}, p["as_of"], p["region"])
    add = est.lines.append

    # Operations per month.
    sessions = w.minutes / w.session_minutes
    ops = {
        "connect": sessions,
        "join": sessions * w.rooms_per_session,
        "send": w.messages_per_second * SECONDS_PER_MONTH,
        "heartbeat": w.minutes / w.heartbeat_minutes,
        "disconnect": sessions,
    }

    # API Gateway: frames in (join, send, heartbeat), a reply to each (two-way routes), and
    # every @connections post (one message to one client each). $connect/$disconnect are
    # connection events, billed as connection minutes.
    frame_units = max(1, math.ceil(w.message_bytes / p["apigateway"]["websocket_message_bytes"]))
    inbound = ops["join"] + ops["send"] + ops["heartbeat"]
    posts = sum(ops[o] * measured[o]["management_calls"] for o in ops)
    messages = (2 * inbound + posts) * frame_units
    gw = p["apigateway"]
    add(
        Line(
            "API Gateway",
            "messages (in, replies, deliveries)",
            messages,
            "messages",
            tiered(messages / 1e6, gw["websocket_messages_per_million"]),
        )
    )
    add(
        Line(
            "API Gateway",
            "connection minutes",
            w.minutes,
            "minutes",
            w.minutes / 1e6 * gw["connection_minutes_per_million"],
        )
    )

    # Lambda: invocations and GB-seconds per function.
    memory = _function_memory()
    invocations: dict[str, float] = {"authorizer": sessions}
    gb_s = sessions * memory["authorizer"] / 1024 * w.handler_ms / 1000
    handler_of = {
        "connect": "connect",
        "join": "join_room",
        "send": "send_message",
        "heartbeat": "heartbeat",
        "disconnect": "disconnect",
    }
    for op, count in ops.items():
        row, name = measured[op], handler_of[op]
        worker_runs = row["worker_invocations"]
        direct_posts = 0 if worker_runs else row["management_calls"]
        invocations[name] = invocations.get(name, 0.0) + count
        gb_s += (
            count
            * memory[name]
            / 1024
            * _duration_ms(direct_posts, memory[name], w.handler_ms)
            / 1000
        )
        if worker_runs:
            per_run = row["management_calls"] / worker_runs
            worker = "fanout_worker"
            invocations[worker] = invocations.get(worker, 0.0) + count * worker_runs
            gb_s += (
                count
                * worker_runs
                * memory[worker]
                / 1024
                * _duration_ms(per_run, memory[worker], w.handler_ms)
                / 1000
            )
    total_invocations = sum(invocations.values())
    lam = p["lambda"]
    add(
        Line(
            "Lambda",
            "requests",
            total_invocations,
            "invocations",
            total_invocations / 1e6 * lam["requests_per_million"],
        )
    )
    add(
        Line(
            "Lambda",
            f"duration ({w.architecture})",
            gb_s,
            "GB-s",
            gb_s * lam["gb_second"][w.architecture],
        )
    )

    # DynamoDB on demand (+ history, modelled).
    ddb = p["dynamodb"]
    rru = sum(ops[o] * measured[o]["read_units"] for o in ops)
    wru = sum(ops[o] * measured[o]["write_units"] for o in ops)
    add(
        Line(
            "DynamoDB",
            "read request units",
            rru,
            "RRU",
            rru / 1e6 * ddb["read_request_units_per_million"],
        )
    )
    add(
        Line(
            "DynamoDB",
            "write request units",
            wru,
            "WRU",
            wru / 1e6 * ddb["write_request_units_per_million"],
        )
    )
    live_gb = w.peak_connections * (1 + w.rooms_per_session) * 1024 / 1e9
    add(
        Line(
            "DynamoDB",
            "storage (connections, memberships)",
            live_gb,
            "GB-month",
            live_gb * ddb["storage_gb_month"],
        )
    )
    if w.history:
        history_wru = ops["send"] * HISTORY_WRITE_UNITS_PER_MESSAGE
        add(
            Line(
                "DynamoDB",
                "history writes (modelled: 2 WRU/message)",
                history_wru,
                "WRU",
                history_wru / 1e6 * ddb["write_request_units_per_million"],
            )
        )
        stored = w.messages_per_second * w.history_retention_seconds * HISTORY_ITEM_BYTES / 1e9
        add(
            Line(
                "DynamoDB",
                "history storage (modelled: rate x retention x 1 KB)",
                stored,
                "GB-month",
                stored * ddb["storage_gb_month"],
            )
        )
        est.notes.append(
            "history is modelled, not measured: 2 write request units per persisted message "
            f"(counter UpdateItem + PutItem <= 1 KB) and {w.history_retention_seconds} s of "
            "retention by TTL; TTL deletions are free"
        )

    # SQS: the handlers' sends, the worker mapping's receive + delete per run, idle polling.
    sqs_requests = sum(ops[o] * measured[o]["sqs_requests"] for o in ops)
    sqs_requests += 2 * invocations.get("fanout_worker", 0.0)
    queues = len(read_manifest()["queues"])
    idle = queues * SQS_IDLE_POLLERS * SECONDS_PER_MONTH / SQS_LONG_POLL_S
    add(
        Line(
            "SQS",
            "requests (sends, worker receive/delete)",
            sqs_requests,
            "requests",
            sqs_requests / 1e6 * p["sqs"]["requests_per_million"],
        )
    )
    add(
        Line(
            "SQS",
            f"idle long polling ({queues} queues)",
            idle,
            "requests",
            idle / 1e6 * p["sqs"]["requests_per_million"],
        )
    )

    # CloudWatch: logs (function lines, EMF lines, access logs), metrics, alarms, dashboard.
    cw = p["cloudwatch"]
    emf_lines = ops["connect"] + ops["join"] + ops["send"] + ops["disconnect"]
    access_lines = inbound + 2 * sessions
    log_gb = (
        total_invocations * w.log_bytes_per_invocation + (emf_lines + access_lines) * 700
    ) / 1e9
    add(Line("CloudWatch", "logs ingested", log_gb, "GB", log_gb * cw["logs_ingested_per_gb"]))
    metrics = len(BROADCAST_METRICS) * (1 + len(BROADCAST_KINDS)) + AUTHORIZER_METRICS
    add(
        Line(
            "CloudWatch",
            "custom metrics (EMF)",
            metrics,
            "metrics",
            metrics * cw["custom_metric_month"],
        )
    )
    functions = len(memory)
    alarm_metrics = (queues + 1) + queues + (functions - 1) + functions + 1 + 3 + 2
    add(
        Line(
            "CloudWatch",
            "alarms (metrics alarmed)",
            alarm_metrics,
            "alarm metrics",
            alarm_metrics * cw["alarm_metric_month"],
        )
    )
    add(Line("CloudWatch", "dashboard", 1, "dashboards", cw["dashboard_month"]))

    # X-Ray active tracing: the default sampling rule, per function.
    reservoir = XRAY_RESERVOIR_PER_S * SECONDS_PER_MONTH
    traces = sum(
        min(n, reservoir) + XRAY_RATE * max(0.0, n - reservoir) for n in invocations.values()
    )
    add(
        Line(
            "X-Ray",
            "traces recorded (active tracing)",
            traces,
            "traces",
            traces / 1e6 * p["xray"]["traces_recorded_per_million"],
        )
    )

    # Data out to the clients.
    out_gb = (inbound + posts) * w.message_bytes / 1e9
    add(
        Line(
            "Data transfer",
            "out to the internet",
            out_gb,
            "GB",
            out_gb * p["data_transfer"]["out_to_internet_per_gb"],
        )
    )

    posts_per_s = posts / SECONDS_PER_MONTH
    if posts_per_s > ACCOUNT_RPS / 2:
        est.notes.append(
            f"on average {posts_per_s:,.0f} @connections posts/s: API Gateway's account "
            f"throttle ({ACCOUNT_RPS:,} requests/s by default, shared with every API of the "
            "account and region) leaves little headroom; peaks will be throttled and retried. "
            "Request a quota increase (README: Costs and limits)"
        )
    scaled = {r.get("scaled_from") for r in measured.values()} - {None}
    if scaled:
        est.notes.append(
            f"room of {w.room_size} measured at {scaled.pop()} members, per-recipient counts scaled"
        )
    est.notes.append(
        f"assumed: sessions of {w.session_minutes:g} min, {w.rooms_per_session:g} room(s) "
        f"per session, a heartbeat every {w.heartbeat_minutes:g} min, {w.message_bytes}-byte "
        f"messages, {w.handler_ms:g} ms per invocation plus broadcast time, "
        f"{w.log_bytes_per_invocation} log bytes per invocation; no free tier"
    )
    return est


def render(est: Estimate) -> str:
    w = est.workload
    out = [
        f"Monthly estimate ({est.region} list prices of {est.prices_as_of}, USD, no free tier)",
        f"workload: peak {w['peak_connections']:,} connections, "
        f"{w['connected_minutes']:,.0f} connection-minutes, {w['messages_per_second']:g} "
        f"messages/s, rooms of {w['room_size']}, history {'on' if w['history'] else 'off'}",
        "",
        f"{'service':<14} {'item':<52} {'quantity':>16} {'USD':>11}",
    ]
    for line in est.lines:
        qty = (
            f"{line.quantity:,.0f} {line.unit}"
            if line.quantity >= 10
            else f"{line.quantity:.3g} {line.unit}"
        )
        out.append(f"{line.service:<14} {line.item:<52} {qty:>16} {line.usd:>11,.2f}")
    out.append("")
    for service, usd in est.by_service().items():
        out.append(f"{service:<14} {'':<52} {'':>16} {usd:>11,.2f}")
    out.append(f"{'total':<14} {'':<52} {'':>16} {est.total:>11,.2f}")
    ratio = est.total / est.floor if est.floor else float("inf")
    out.append(
        f"floor: API Gateway's own messages and connection minutes, {est.floor:,.2f} USD; "
        f"the whole platform costs {ratio:.2f}x that"
    )
    out += [f"note: {n}" for n in est.notes]
    return "\n".join(out)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    d = Workload()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--peak-connections", type=int, default=d.peak_connections)
    parser.add_argument(
        "--connected-minutes",
        type=float,
        default=None,
        help="connection-minutes per month (default: half the peak, connected all month)",
    )
    parser.add_argument("--messages-per-second", type=float, default=d.messages_per_second)
    parser.add_argument("--room-size", type=int, default=d.room_size, help="members per room")
    parser.add_argument("--history", action=argparse.BooleanOptionalAction, default=False)
    parser.add_argument(
        "--history-retention-seconds", type=int, default=d.history_retention_seconds
    )
    parser.add_argument("--session-minutes", type=float, default=d.session_minutes)
    parser.add_argument("--rooms-per-session", type=float, default=d.rooms_per_session)
    parser.add_argument("--message-bytes", type=int, default=d.message_bytes)
    parser.add_argument("--architecture", choices=("arm64", "x86_64"), default=d.architecture)
    parser.add_argument("--json", action="store_true", help="print the estimate as JSON")
    args = parser.parse_args(argv)
    if args.room_size < 2 or args.peak_connections < 1 or args.messages_per_second < 0:
        parser.error("room size must be at least 2, peak connections at least 1, rate >= 0")
    if not 0 < args.session_minutes <= 120:
        parser.error("--session-minutes must be in (0, 120]: API Gateway closes at 2 h")
    return args


def main(argv: list[str] | None = None) -> int:
    from bench.cost import measure_workload

    args = parse_args(argv)
    workload = Workload(
        peak_connections=args.peak_connections,
        connected_minutes=args.connected_minutes,
        messages_per_second=args.messages_per_second,
        room_size=args.room_size,
        history=args.history,
        history_retention_seconds=args.history_retention_seconds,
        session_minutes=args.session_minutes,
        rooms_per_session=args.rooms_per_session,
        message_bytes=args.message_bytes,
        architecture=args.architecture,
    )
    est = estimate(workload, measure_workload(workload.room_size))
    print(json.dumps(est.as_dict(), indent=2) if args.json else render(est))
    return 0


if __name__ == "__main__":
    sys.exit(main())
