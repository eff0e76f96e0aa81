"""Latency of a persisted sendMessage over an ephemeral one, through the local gateway.

The gateway (`python -m local_gateway`) runs in its own process with the real handlers on
its emulated AWS; the clients run in another (`python -m bench.continuity_latency --clients
...`). A room of `members` connections; one member sends `pairs` pairs of small messages,
one persisted and one `"ephemeral": true`, the order alternating from pair to pair (so that
drift and warm-up hit both kinds alike), strictly one at a time: the next message is sent
once the previous one's ack and its frame at one receiver have both arrived. `warmup`
pairs first, not counted.

Per message: `ack_ms` (send -> ack at the sender; on the direct path the ack follows the
delivery posts) and `delivery_ms` (send -> the frame at a receiver). Reported: the median
of each kind, the ratio of the medians (persisted / ephemeral) and the median of the
per-pair differences. This is the emulator on this machine: a persisted message's two
extra DynamoDB writes are HTTP round trips to moto here, in-region DynamoDB calls on AWS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

from bench.gateway_capacity import measure, open_client, percentile

ROOM = "continuity"
TEXT = "hello room"
KINDS = ("persisted", "ephemeral")


def order(pair: int) -> tuple[str, str]:
    """The kinds in the order pair `pair` sends them: alternating, persisted first at 0."""
    return KINDS if pair % 2 == 0 else (KINDS[1], KINDS[0])


def summarize(persisted: list[float], ephemeral: list[float]) -> dict[str, Any]:
    """Medians, their ratio and the median paired difference (pair i: persisted[i] -
    ephemeral[i]) of one measure, in ms."""
    if not persisted or len(persisted) != len(ephemeral):
        raise ValueError("one value of each kind per pair is needed")
    p50, e50 = statistics.median(persisted), statistics.median(ephemeral)
    diffs = [p - e for p, e in zip(persisted, ephemeral, strict=True)]
    return {
        "persisted_median_ms": round(p50, 2),
        "ephemeral_median_ms": round(e50, 2),
        "ratio": round(p50 / e50, 3) if e50 > 0 else None,
        "median_paired_difference_ms": round(statistics.median(diffs), 2),
        "persisted_p90_ms": round(percentile(persisted, 0.9), 2),
        "ephemeral_p90_ms": round(percentile(ephemeral, 0.9), 2),
    }


async def join(room: list[Any]) -> None:
    for ws in room:
        await ws.send(json.dumps({"action": "joinRoom", "roomId": ROOM}))
        while True:  # presence events of earlier joiners may come first
            frame = json.loads(await ws.recv())
            if frame.get("type") in ("ack", "error"):
                break


class Timer:
    """Sends from one member and times the ack there and the frame at another member."""

    def __init__(self, sender: Any, probe: Any, others: list[Any]) -> None:
        self.sender = sender
        self.acks: dict[str, asyncio.Future[tuple[float, dict[str, Any]]]] = {}
        self.frames: dict[str, asyncio.Future[float]] = {}
        self.readers = [
            asyncio.create_task(self._read_sender()),
            asyncio.create_task(self._read_probe(probe)),
            *(asyncio.create_task(self._drain(ws)) for ws in others),
        ]

    async def _read_sender(self) -> None:
        async for raw in self.sender:
            frame = json.loads(raw)
            waiter = self.acks.pop(str(frame.get("requestId")), None)
            if waiter is not None and not waiter.done():
                waiter.set_result((time.perf_counter(), frame))

    async def _read_probe(self, probe: Any) -> None:
        async for raw in probe:
            frame = json.loads(raw)
            data = frame.get("data")
            if frame.get("type") == "message" and isinstance(data, dict):
                waiter = self.frames.pop(str(data.get("id")), None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(time.perf_counter())

    @staticmethod
    async def _drain(ws: Any) -> None:
        async for _ in ws:
            pass

    async def send(self, kind: str, tag: str) -> tuple[float, float]:
        """One message of this kind; (ack ms, delivery ms)."""
        loop = asyncio.get_running_loop()
        rid = f"{kind}-{tag}"
        self.acks[rid] = ack_waiter = loop.create_future()
        self.frames[rid] = frame_waiter = loop.create_future()
        body: dict[str, Any] = {"action": "sendMessage", "roomId": ROOM, "requestId": rid}
        body["data"] = {"id": rid, "text": TEXT}
        if kind == "ephemeral":
            body["ephemeral"] = True
        start = time.perf_counter()
        await self.sender.send(json.dumps(body))
        acked, reply = await asyncio.wait_for(ack_waiter, 30)
        if reply.get("type") != "ack" or ("seq" in reply) != (kind == "persisted"):
            raise RuntimeError(f"unexpected reply to a {kind} message: {reply}")
        delivered = await asyncio.wait_for(frame_waiter, 30)
        return (acked - start) * 1000, (delivered - start) * 1000

    def stop(self) -> None:
        for task in self.readers:
            task.cancel()


async def clients(url: str, members: int, pairs: int, warmup: int) -> dict[str, Any]:
    room = [await open_client(url, f"lat{i}") for i in range(members)]
    await join(room)
    timer = Timer(room[0], room[1], room[2:])
    ack_ms: dict[str, list[float]] = {kind: [] for kind in KINDS}
    delivery_ms: dict[str, list[float]] = {kind: [] for kind in KINDS}
    started = time.perf_counter()
    try:
        for pair in range(-warmup, pairs):
            for kind in order(pair):
                ack, delivery = await timer.send(kind, str(pair))
                if pair >= 0:
                    ack_ms[kind].append(ack)
                    delivery_ms[kind].append(delivery)
    finally:
        timer.stop()
        await asyncio.gather(*(ws.close() for ws in room), return_exceptions=True)
    return {
        "room_members": members,
        "pairs": pairs,
        "warmup_pairs": warmup,
        "elapsed_s": round(time.perf_counter() - started, 1),
        "ack": summarize(ack_ms["persisted"], ack_ms["ephemeral"]),
        "delivery": summarize(delivery_ms["persisted"], delivery_ms["ephemeral"]),
    }


def run(pairs: int = 200, members: int = 10, warmup: int = 20) -> dict[str, Any]:
    """Start the gateway, drive it from a client process, stop it; return the figures."""
    args = ["--members", str(members), "--pairs", str(pairs), "--warmup", str(warmup)]
    return measure("bench.continuity_latency", args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", action="store_true", help="run the client side only")
    parser.add_argument("--url", default="")
    parser.add_argument("--members", type=int, default=10)
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args()
    if args.clients:
        result = asyncio.run(clients(args.url, args.members, args.pairs, args.warmup))
        print("RESULT " + json.dumps(result), flush=True)
    else:
        print(json.dumps(run(args.pairs, args.members, args.warmup), indent=2))


if __name__ == "__main__":
    main()
