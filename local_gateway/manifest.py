"""Typed view of `modules/websocket_api/manifest.json`, the file Terraform also reads.

Nothing about routes, keys, indexes or queues is written twice: the gateway routes frames,
creates the emulated table and queues and filters the stream from this view only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tools.manifest import MANIFEST_PATH, read_manifest

if TYPE_CHECKING:
    from pathlib import Path


@dataclass(frozen=True, slots=True)
class Function:
    """One Lambda function: where its handler lives and how it is triggered."""

    name: str
    module: str
    attribute: str
    memory_mb: int
    timeout_s: int
    route: str | None = None
    two_way: bool = False
    source: str | None = None
    batch_size: int = 10
    maximum_concurrency: int = 2
    maximum_retry_attempts: int = 2

    @classmethod
    def parse(cls, name: str, raw: dict[str, Any]) -> Function:
        module, _, attribute = str(raw["handler"]).rpartition(".")
        if not module or not attribute:
            raise ValueError(f"function {name}: handler must be 'module.function'")
        return cls(
            name=name,
            module=module,
            attribute=attribute,
            memory_mb=int(raw.get("memory_mb", 128)),
            timeout_s=int(raw.get("timeout_s", 3)),
            route=raw.get("route"),
            two_way=bool(raw.get("two_way", False)),
            source=raw.get("source"),
            batch_size=int(raw.get("batch_size", 10)),
            maximum_concurrency=int(raw.get("maximum_concurrency", 2)),
            maximum_retry_attempts=int(raw.get("maximum_retry_attempts", 2)),
        )


@dataclass(frozen=True, slots=True)
class Queue:
    """An SQS queue, its consumer and the variable that carries its URL."""

    name: str
    env: str
    consumer: str
    max_receive_count: int


@dataclass(frozen=True, slots=True)
class Manifest:
    """The parsed manifest; `raw` is the file's JSON, which tools.aws_local creates from."""

    functions: dict[str, Function]
    queues: dict[str, Queue]
    table: dict[str, Any]
    stream_filter: dict[str, Any]
    raw: dict[str, Any]

    @property
    def routes(self) -> dict[str, Function]:
        """Route key -> function (the API's route table)."""
        return {f.route: f for f in self.functions.values() if f.route is not None}

    @property
    def authorizer(self) -> Function | None:
        return self.functions.get("authorizer")

    @property
    def stream_consumer(self) -> Function | None:
        for fn in self.functions.values():
            if fn.source == "dynamodb-stream":
                return fn
        return None

    @property
    def ttl_attribute(self) -> str:
        return str(self.table["ttl_attribute"])

    @property
    def key_names(self) -> tuple[str, ...]:
        range_key = self.table.get("range_key")
        return (self.table["hash_key"], range_key) if range_key else (self.table["hash_key"],)

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Manifest:
        functions = {name: Function.parse(name, fn) for name, fn in raw["functions"].items()}
        queues = {
            name: Queue(name, str(q["env"]), str(q["consumer"]), int(q["max_receive_count"]))
            for name, q in raw.get("queues", {}).items()
        }
        for queue in queues.values():
            if queue.consumer not in functions:
                raise ValueError(f"queue {queue.name}: unknown consumer {queue.consumer}")
        return cls(functions, queues, dict(raw["table"]), dict(raw.get("stream_filter", {})), raw)


def load_manifest(path: Path = MANIFEST_PATH) -> Manifest:
    """Read and parse the manifest (a malformed file fails the start, loudly)."""
    return Manifest.parse(read_manifest(path))
