"""Cold start: each handler's import time in a fresh interpreter, beside bare `import boto3`.

Importing a handler module is what Lambda's init phase does: it runs `services()` (config,
the DynamoDB client; the SQS client is built on first use) at import. Each figure is the
median of `runs` fresh interpreters, timed inside the interpreter around the import only
(the runtime's own start-up is paid before any handler code), with the environment the
Terraform module sets (docs/ARCHITECTURE.md).

The handlers are imported from the artifacts `tools/build.py --local` builds, laid out as
Lambda does (function code, then the layer's `python/`), with byte-code writing disabled
as on Lambda's read-only file systems:
- `import_ms`: the artifacts as built: with the byte-code the build ships (it writes it
  with an interpreter of the runtime's version; here, this one);
- `import_ms_source`: the same built with `--bytecode off` (sources only), what a build
  machine without the runtime's Python produces: every module compiles at each cold start.
boto3 (part of the runtime) has its byte-code in both, as in Lambda.

On a shared machine wall times drift with other load, so each handler's runs are
interleaved with runs of bare `import boto3` (its own baseline), `over_boto3_ms` is the
median of the paired differences, and the CPU time of the import is reported too
(`import_cpu_ms`).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from bench.child import run_python
from tools.manifest import ROOT, read_manifest

HANDLERS = ROOT / "lambda_src" / "handlers"

PROBE = """
import sys, time
t0, c0 = time.perf_counter(), time.process_time()
__import__(sys.argv[1])
print(f"{(time.perf_counter() - t0) * 1000:.3f} {(time.process_time() - c0) * 1000:.3f}")
"""

HANDLER_ENV = {
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_REGION": "eu-west-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_EC2_METADATA_DISABLED": "true",
    "TABLE_NAME": "ws-bench",
    "FANOUT_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/ws-bench-fanout",
    "PUBLISH_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/ws-bench-publish",
    "FANOUT_THRESHOLD": "100",
    "MANAGEMENT_ENDPOINT": "https://abc123.execute-api.eu-west-1.amazonaws.com/prod",
    "LOG_LEVEL": "INFO",
    "TRACING_ENABLED": "false",
    # authorizer (HS256 from a secret ARN; the secret is fetched on first use, not at import)
    "JWT_ALGORITHM": "HS256",
    "JWT_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ws-jwt-AbCdEf",
    "JWT_ISSUER": "https://issuer.example.com",
    "JWT_AUDIENCE": "ws-bench",
}


def handler_names() -> list[str]:
    return sorted(p.stem for p in HANDLERS.glob("*.py") if not p.stem.startswith("_"))


def function_env(name: str) -> dict[str, str]:
    """HANDLER_ENV as the module sets it for one function (queue URLs only where sent)."""

    manifest = read_manifest()
    spec = manifest["functions"].get(name, {})
    env = dict(HANDLER_ENV)
    queues = {q: v["env"] for q, v in manifest["queues"].items()}
    for queue, var in queues.items():
        if queue not in spec.get("sqs_send", []):
            env.pop(var, None)
    return env


def probe_env(deployed: Path, function: str = "") -> dict[str, str]:
    """Lambda's layout: /var/task (function code) first, then /opt/python (the layer)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "JWT_"))}
    env.update(function_env(function) if function else HANDLER_ENV)
    env.pop("DYNAMODB_TRANSPORT", None)
    env["PYTHONPATH"] = os.pathsep.join([str(deployed / "task"), str(deployed / "opt" / "python")])
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def import_once(module: str, env: dict[str, str]) -> tuple[float, float]:
    """(wall ms, CPU ms) of importing `module` in a fresh interpreter."""
    wall, cpu = run_python(["-c", PROBE, module], env, timeout=60).split()
    return float(wall), float(cpu)


def median(values: list[float]) -> float:
    return round(statistics.median(values), 1) if values else 0.0


def measure_handler(name: str, runs: int, built: Path, sources: Path) -> dict[str, Any]:
    """Runs interleaved with bare `import boto3`, so load drift hits both alike."""
    base_env = probe_env(built)
    deployed_env = probe_env(built, function=name)
    source_env = probe_env(sources, function=name)
    base: list[tuple[float, float]] = []
    deployed: list[tuple[float, float]] = []
    source: list[tuple[float, float]] = []
    try:
        for _ in range(runs):
            base.append(import_once("boto3", base_env))
            deployed.append(import_once(name, deployed_env))
            source.append(import_once(name, source_env))
    except RuntimeError as exc:
        return {"handler": name, "import_ms": 0.0, "boto3_import_ms": 0.0, "error": str(exc)}
    row: dict[str, Any] = {
        "handler": name,
        "import_ms": median([w for w, _ in deployed]),
        "boto3_import_ms": median([w for w, _ in base]),
        "import_ms_source": median([w for w, _ in source]),
        "import_cpu_ms": median([c for _, c in deployed]),
        "boto3_import_cpu_ms": median([c for _, c in base]),
        "samples_ms": [round(w, 1) for w, _ in deployed],
    }
    # Each run is paired with the boto3 run just before it: the median of the differences
    # cancels load that drifts over the measurement better than a difference of medians.
    row["over_boto3_ms"] = median([d[0] - b[0] for d, b in zip(deployed, base, strict=True)])
    row["over_boto3_cpu_ms"] = median([d[1] - b[1] for d, b in zip(deployed, base, strict=True)])
    row["source_over_boto3_ms"] = median([s[0] - b[0] for s, b in zip(source, base, strict=True)])
    return row


FLOOR_MODULE = "_boto3_dynamodb_floor"
FLOOR_SOURCE = 'import boto3\n\nboto3.client("dynamodb")\n'


def deploy(artifacts: Path, dest: Path) -> Path:
    """Unzip a build as Lambda lays it out: dest/opt (the layer), dest/task (functions)."""
    with zipfile.ZipFile(artifacts / "layer.zip") as zf:
        zf.extractall(dest / "opt")
    for function in sorted((artifacts / "functions").glob("*.zip")):
        with zipfile.ZipFile(function) as zf:
            zf.extractall(dest / "task")
    (dest / "task" / f"{FLOOR_MODULE}.py").write_text(FLOOR_SOURCE)
    return dest


def measure(
    artifacts: Path, sources_only: Path, runs: int = 5
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One row per handler (median of `runs` fresh interpreters each), and the floor.

    `artifacts` and `sources_only` are two `tools/build.py --local` outputs, with and
    without byte-code. The floor is what any handler that talks to DynamoDB through boto3
    pays at init: `import boto3` plus creating one client (the AWS samples do it at import).
    """
    with tempfile.TemporaryDirectory(prefix="coldstart-") as tmp:
        built = deploy(artifacts, Path(tmp) / "built")
        plain = deploy(sources_only, Path(tmp) / "sources")
        import_once("boto3", probe_env(built))  # warm the page cache
        rows = [measure_handler(name, runs, built, plain) for name in handler_names()]
        floor = measure_handler(FLOOR_MODULE, runs, built, plain)
        floor["handler"] = "floor:boto3+ddb"
        return rows, floor


def build_artifacts(out: Path, wheelhouse: Path | None, *, bytecode: bool = True) -> dict[str, Any]:
    """`tools/build.py --local` (this machine's platform) into `out`; its manifest or an error."""
    cmd = [sys.executable, "-m", "tools.build", "--local", "--out", str(out)]
    cmd += ["--bytecode", "auto" if bytecode else "off"]
    if wheelhouse is not None and wheelhouse.is_dir():
        cmd += ["--find-links", str(wheelhouse), "--no-index"]
    proc = subprocess.run(  # noqa: S603 - the project's build tool
        cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    if proc.returncode != 0 or not (out / "manifest.json").exists():
        return {"error": (proc.stderr or proc.stdout).strip().splitlines()[-1:]}
    manifest: dict[str, Any] = json.loads((out / "manifest.json").read_text())
    return manifest


def artifact_sizes(out: Path) -> dict[str, Any]:
    """Layer and function zip sizes of a `build_artifacts` output."""
    layer = out / "layer.zip"
    return {
        "layer_bytes": layer.stat().st_size,
        "functions_bytes": {
            p.stem: p.stat().st_size for p in sorted((out / "functions").glob("*.zip"))
        },
    }
