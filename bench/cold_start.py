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
t0 = time.perf_counter()
__import__(sys.argv[1])
print(f"{(time.perf_counter() - t0) * 1000:.3f}")
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


def import_ms(
    module: str, runs: int, src: Path = ROOT / "lambda_src", *, bytecode: bool = True
) -> tuple[float, list[float], str | None]:
    """Median import time of `module` over `runs` fresh interpreters (and any error)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "JWT_"))}
    env.update(HANDLER_ENV)
    env["PYTHONPATH"] = os.pathsep.join([str(src), str(src / "handlers")])
    if not bytecode:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    else:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    samples: list[float] = []
    for _ in range(runs):
        proc = subprocess.run(  # noqa: S603 - this interpreter, our probe
            [sys.executable, "-c", PROBE, module],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if proc.returncode != 0:
            return 0.0, [], proc.stderr.strip().splitlines()[-1]
        samples.append(float(proc.stdout.strip().splitlines()[-1]))
    return statistics.median(samples), samples, None


def measure(runs: int = 5) -> list[dict[str, Any]]:
    """One row per handler: import_ms and boto3_import_ms (median of `runs`)."""
    import_ms("boto3", 1)  # boto3's byte-code exists in the runtime: warm it here too
    boto3_ms, _, _ = import_ms("boto3", runs)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="coldstart-") as tmp:
        nopyc, pyc = Path(tmp) / "nopyc", Path(tmp) / "pyc"
        for dest in (nopyc, pyc):
            shutil.copytree(ROOT / "lambda_src", dest, ignore=shutil.ignore_patterns("__pycache__"))
        for name in handler_names():
            median, samples, error = import_ms(name, runs, nopyc, bytecode=False)
            import_ms(name, 1, pyc)
            cached, _, _ = import_ms(name, runs, pyc)
            row: dict[str, Any] = {
                "handler": name,
                "import_ms": round(median, 1),
                "boto3_import_ms": round(boto3_ms, 1),
                "over_boto3_ms": round(median - boto3_ms, 1),
                "import_ms_pyc": round(cached, 1),
                "samples_ms": [round(s, 1) for s in samples],
            }
            if error:
                row["error"] = error
            rows.append(row)
    return rows


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
