"""DynamoDB client cost: building the client at cold start, and CPU per call.

Each implementation runs in a fresh process against `bench.endpoint` (which answers every
DynamoDB request with one fixed GetItem result, so only the client's own work is
measured): `boto3` is `boto3.client("dynamodb")` as the handlers built it before, `project`
is `wscore.aws.dynamodb.FastDynamoDBClient`, what they build now. Reported: the time to build
the client after `import boto3` (the part of a cold start the client adds), and the CPU
time per GetItem over `calls` calls after a warm-up (median of `runs` processes).

    python -m bench.dynamodb_calls --endpoint http://127.0.0.1:PORT --impl project
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

from bench.child import run_python

IMPLS = ("boto3", "project")
KEY = {"PK": {"S": "CONN#L0SM9cOFvHcCIhw="}, "SK": {"S": "META"}}


def run_one(endpoint: str, impl: str, calls: int) -> dict[str, float]:
    import boto3

    start = time.perf_counter()
    if impl == "boto3":
        client: Any = boto3.client("dynamodb", endpoint_url=endpoint)
    else:
        from wscore.aws.dynamodb import FastDynamoDBClient

        client = FastDynamoDBClient(endpoint, "eu-west-1")
    build_ms = (time.perf_counter() - start) * 1000
    for _ in range(50):
        client.get_item(TableName="bench", Key=KEY, ConsistentRead=True)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(calls):
        out = client.get_item(TableName="bench", Key=KEY, ConsistentRead=True)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    assert out["Item"]["userId"] == {"S": "alice"}
    return {
        "client_build_ms": round(build_ms, 2),
        "cpu_us_per_call": round(cpu / calls * 1e6, 1),
        "wall_us_per_call": round(wall / calls * 1e6, 1),
    }


def measure(
    endpoint: str, env: dict[str, str], calls: int = 2000, runs: int = 3
) -> list[dict[str, Any]]:
    """One row per implementation, medians of `runs` fresh processes."""
    rows = []
    for impl in IMPLS:
        args = ["-m", "bench.dynamodb_calls", "--endpoint", endpoint, "--impl", impl]
        args += ["--calls", str(calls)]
        try:
            samples = [json.loads(run_python(args, env, timeout=300)) for _ in range(runs)]
        except RuntimeError as exc:
            return [{"impl": impl, "error": str(exc)}]
        row: dict[str, Any] = {"impl": impl, "calls": calls, "runs": runs}
        for field in ("client_build_ms", "cpu_us_per_call", "wall_us_per_call"):
            row[field] = round(statistics.median(s[field] for s in samples), 1)
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--impl", choices=IMPLS, required=True)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    print(json.dumps(run_one(args.endpoint, args.impl, args.calls)))


if __name__ == "__main__":
    main()
