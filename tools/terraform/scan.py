"""`make checkov`: checkov on modules/websocket_api and on the offline plan of terraform/dev.

checkov lives in its own virtualenv (.venv/checkov; its pins conflict with the dev tools)
and runs with --skip-download, so it needs no network. Skipped checks come from
checkov_skips.json, where each one carries its reason; a skip without one is an error.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from tools.manifest import ROOT
from tools.terraform import plan, toolchain

if TYPE_CHECKING:
    from collections.abc import Iterator

SKIPS_FILE = Path(__file__).with_name("checkov_skips.json")
MODULE_DIR = ROOT / "modules" / "websocket_api"
MIN_REASON = 40
# checkov's own pattern for an AWS secret access key (checkov/common/util/secrets.py).
AWS_SECRET_KEY = re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])")


def load_skips(path: Path = SKIPS_FILE) -> dict[str, str]:
    """Check id -> reason; raise when a reason is missing or too thin to mean anything."""
    raw = json.loads(path.read_text())
    skips = {k: v for k, v in raw.items() if not k.startswith("_")}
    thin = [k for k, v in skips.items() if not isinstance(v, str) or len(v.strip()) < MIN_REASON]
    if thin:
        raise ValueError(f"{path.name}: skips without a real reason: {', '.join(sorted(thin))}")
    return skips


def checkov(binary: str, target: list[str], skips: dict[str, str], label: str) -> int:
    """Run checkov once; print its report; return its exit code."""
    args = [
        binary,
        *target,
        "--skip-download",
        "--compact",
        "--quiet",
        "--output",
        "cli",
        "--skip-check",
        ",".join(sorted(skips)),
    ]
    start = time.monotonic()
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False)
    status = "ok " if proc.returncode == 0 else "FAIL"
    print(f"checkov: {status} {label} ({time.monotonic() - start:.1f} s)")
    if proc.returncode != 0:
        print(proc.stdout.rstrip(), proc.stderr.rstrip(), sep="\n")
    return proc.returncode


@contextlib.contextmanager
def plan_for_checkov(plan_json: Path, tmp_root: Path | None = None) -> Iterator[Path]:
    """A copy of the plan JSON at a path that checkov cannot mistake for a secret.

    checkov copies the real path of the plan file into every resource's attributes, Lambda
    environment variables included, and CKV_AWS_45 reads any run of exactly 40 characters of
    `[A-Za-z0-9/+=]` there as an AWS secret access key: a plan inside a clone at the wrong
    depth failed the check for all twelve functions. The copy goes to a short fresh directory
    in the system temp dir (TMPDIR), checked with checkov's own pattern.
    """
    tmp = Path(tempfile.mkdtemp(prefix="checkov-", dir=tmp_root)).resolve()
    try:
        copy = tmp / "plan.json"
        if AWS_SECRET_KEY.search(str(copy)):
            raise ValueError(
                f"checkov would read the path {copy} as an AWS secret key (a run of 40 "
                "path characters); set TMPDIR to a shorter directory, e.g. TMPDIR=/tmp"
            )
        shutil.copyfile(plan_json, copy)
        yield copy
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkov", default=str(ROOT / ".venv" / "checkov" / "bin" / "checkov"))
    parser.add_argument("--work", type=Path, help="work copy (default: fresh, removed after)")
    args = parser.parse_args(argv)

    skips = load_skips()
    print(f"checkov: skipping {len(skips)} checks, each with its reason in {SKIPS_FILE.name}")
    rc = checkov(
        args.checkov,
        ["--directory", str(MODULE_DIR), "--framework", "terraform", "--skip-path", "tests"],
        skips,
        "modules/websocket_api (.tf)",
    )
    work = args.work or toolchain.scratch_dir("checkov")
    try:
        run = plan.plan_root(work, "terraform/dev", apply=False)
    except plan.TerraformError as exc:
        print(f"checkov: FAIL cannot plan terraform/dev:\n{exc}", file=sys.stderr)
        return 1
    with plan_for_checkov(run.plan_json_path) as plan_json:
        rc |= checkov(
            args.checkov,
            ["--file", str(plan_json), "--framework", "terraform_plan"],
            skips,
            "terraform/dev plan (show -json)",
        )
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if rc else 0


if __name__ == "__main__":
    sys.exit(main())
