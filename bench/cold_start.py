"""Cold start: each handler's import time in a fresh interpreter, beside bare `import boto3`.

Importing a handler module is what Lambda's init phase does: it runs `services()` (config,
boto3 clients for DynamoDB and SQS) at import. Each figure is the median of `runs` fresh
interpreters, timed inside the interpreter around the import only (the runtime's own
start-up is paid before any handler code), with the environment the Terraform module sets
(docs/ARCHITECTURE.md).

Two variants, because the layer ships no .pyc (tools/build.py drops them) and /opt is
read-only in Lambda, so the project's modules are compiled at every cold start while
boto3 (part of the runtime) has its byte-code:
- `import_ms`: project sources from a fresh copy, byte-code writing disabled (as deployed);
- `import_ms_pyc`: the same with the project's byte-code cached (what shipping .pyc gives).

On a shared machine wall times drift with other load, so each handler's runs are
interleaved with runs of bare `import boto3` (its own baseline) and the CPU time of the
import is reported too (`import_cpu_ms`), which other processes barely disturb.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
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
    import json

    manifest = json.loads((ROOT / "modules" / "websocket_api" / "manifest.json").read_text())
    spec = manifest["functions"].get(name, {})
    env = dict(HANDLER_ENV)
    queues = {q: v["env"] for q, v in manifest["queues"].items()}
    for queue, var in queues.items():
        if queue not in spec.get("sqs_send", []):
            env.pop(var, None)
    return env


def probe_env(src: Path, *, bytecode: bool, function: str = "") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "JWT_"))}
    env.update(function_env(function) if function else HANDLER_ENV)
    env["PYTHONPATH"] = os.pathsep.join([str(src), str(src / "handlers")])
    if bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def import_once(module: str, env: dict[str, str]) -> tuple[float, float]:
    """(wall ms, CPU ms) of importing `module` in a fresh interpreter."""
    proc = subprocess.run(  # noqa: S603 - this interpreter, our probe
        [sys.executable, "-c", PROBE, module],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1])
    wall, cpu = proc.stdout.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


def median(values: list[float]) -> float:
    return round(statistics.median(values), 1) if values else 0.0


def measure_handler(name: str, runs: int, nopyc: Path, pyc: Path) -> dict[str, Any]:
    """Runs interleaved with bare `import boto3`, so load drift hits both alike."""
    base_env = probe_env(nopyc, bytecode=True)
    cold_env = probe_env(nopyc, bytecode=False, function=name)
    pyc_env = probe_env(pyc, bytecode=True, function=name)
    base: list[tuple[float, float]] = []
    cold: list[tuple[float, float]] = []
    cached: list[tuple[float, float]] = []
    try:
        import_once(name, pyc_env)  # write the byte-code of the .pyc variant
        for _ in range(runs):
            base.append(import_once("boto3", base_env))
            cold.append(import_once(name, cold_env))
            cached.append(import_once(name, pyc_env))
    except RuntimeError as exc:
        return {"handler": name, "import_ms": 0.0, "boto3_import_ms": 0.0, "error": str(exc)}
    row: dict[str, Any] = {
        "handler": name,
        "import_ms": median([w for w, _ in cold]),
        "boto3_import_ms": median([w for w, _ in base]),
        "import_ms_pyc": median([w for w, _ in cached]),
        "import_cpu_ms": median([c for _, c in cold]),
        "boto3_import_cpu_ms": median([c for _, c in base]),
        "samples_ms": [round(w, 1) for w, _ in cold],
    }
    row["over_boto3_ms"] = round(row["import_ms"] - row["boto3_import_ms"], 1)
    row["over_boto3_cpu_ms"] = round(row["import_cpu_ms"] - row["boto3_import_cpu_ms"], 1)
    return row


FLOOR_MODULE = "_boto3_dynamodb_floor"
FLOOR_SOURCE = 'import boto3\n\nboto3.client("dynamodb")\n'


def measure(runs: int = 5) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One row per handler (median of `runs` fresh interpreters each), and the floor.

    The floor is what any handler that talks to DynamoDB through boto3 pays at init:
    `import boto3` plus creating one client (the AWS samples create theirs at import too).
    """
    with tempfile.TemporaryDirectory(prefix="coldstart-") as tmp:
        nopyc, pyc = Path(tmp) / "nopyc", Path(tmp) / "pyc"
        for dest in (nopyc, pyc):
            shutil.copytree(ROOT / "lambda_src", dest, ignore=shutil.ignore_patterns("__pycache__"))
            (dest / f"{FLOOR_MODULE}.py").write_text(FLOOR_SOURCE)
        import_once("boto3", probe_env(nopyc, bytecode=True))  # warm boto3's own byte-code
        rows = [measure_handler(name, runs, nopyc, pyc) for name in handler_names()]
        floor = measure_handler(FLOOR_MODULE, runs, nopyc, pyc)
        floor["handler"] = "floor:boto3+ddb"
        return rows, floor


def artifact_sizes(out: Path, wheelhouse: Path | None) -> dict[str, Any]:
    """Layer and function zip sizes from `tools/build.py --local` (this machine's platform)."""
    cmd = [sys.executable, str(ROOT / "tools" / "build.py"), "--local", "--out", str(out)]
    if wheelhouse is not None and wheelhouse.is_dir():
        cmd += ["--find-links", str(wheelhouse), "--no-index"]
    proc = subprocess.run(  # noqa: S603 - the project's build tool
        cmd, capture_output=True, text=True, timeout=600, check=False
    )
    if proc.returncode != 0:
        return {"error": (proc.stderr or proc.stdout).strip().splitlines()[-1:]}
    layer = out / "layer.zip"
    if not layer.exists():
        return {"error": [proc.stdout.strip()]}
    return {
        "layer_bytes": layer.stat().st_size,
        "functions_bytes": {
            p.stem: p.stat().st_size for p in sorted((out / "functions").glob("*.zip"))
        },
    }
