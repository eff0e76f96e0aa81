"""`make plan` / `make apply` against a stub `terraform`: what they say when something is
missing, and the exact commands they run otherwise (no AWS, no real Terraform needed)."""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import TYPE_CHECKING

import pytest

from tools.manifest import ROOT

if TYPE_CHECKING:
    from pathlib import Path

STUB = """#!/bin/sh
echo "$@" >> "$STUB_LOG"
"""


@pytest.fixture
def roots(tmp_path: Path) -> Path:
    """Copies of the environment roots (no backend.hcl) and a stub terraform on PATH."""
    base = tmp_path / "roots"
    for env in ("bootstrap", "dev"):
        shutil.copytree(ROOT / "terraform" / env, base / env)
        (base / env / "backend.hcl").unlink(missing_ok=True)
    stub = tmp_path / "bin" / "terraform"
    stub.parent.mkdir()
    stub.write_text(STUB)
    stub.chmod(0o755)
    return base


def _make(roots: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    env["PATH"] = f"{roots.parent / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["STUB_LOG"] = str(roots.parent / "terraform.log")
    return subprocess.run(
        ["make", "--no-print-directory", "-s", *args, f"TF_ROOTS_DIR={roots}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _terraform_calls(roots: Path) -> list[str]:
    log = roots.parent / "terraform.log"
    return log.read_text().splitlines() if log.exists() else []


def test_plan_without_backend_config_says_what_to_do(roots: Path) -> None:
    result = _make(roots, "plan", "ENV=dev")
    assert result.returncode != 0
    assert f"{roots}/dev/backend.hcl is missing" in result.stderr
    assert f"cp {roots}/dev/backend.hcl.example {roots}/dev/backend.hcl" in result.stderr
    assert _terraform_calls(roots) == []  # nothing ran, not even the build


def test_plan_without_tfvars_says_how_to_make_them_from_the_example(roots: Path) -> None:
    (roots / "dev" / "backend.hcl").write_text('bucket = "b"\n')
    result = _make(roots, "plan", "ENV=dev")
    assert result.returncode != 0
    assert f"cp {roots}/dev/terraform.tfvars.example {roots}/dev/terraform.tfvars" in result.stderr
    assert _terraform_calls(roots) == []


def test_apply_without_a_saved_plan_says_what_to_do(roots: Path) -> None:
    result = _make(roots, "apply", "ENV=dev")
    assert result.returncode != 0
    assert "there is no saved plan" in result.stderr
    assert "Run make plan ENV=dev" in result.stderr
    assert _terraform_calls(roots) == []


def test_plan_then_apply_run_the_saved_plan(roots: Path) -> None:
    """The bootstrap root deploys no Lambda: its plan needs no build."""
    (roots / "bootstrap" / "backend.hcl").write_text('bucket = "b"\n')
    shutil.copy(
        roots / "bootstrap" / "terraform.tfvars.example", roots / "bootstrap" / "terraform.tfvars"
    )
    planned = _make(roots, "plan", "ENV=bootstrap")
    assert planned.returncode == 0, planned.stderr
    assert "make apply ENV=bootstrap" in planned.stdout
    assert _terraform_calls(roots) == [
        f"-chdir={roots}/bootstrap init -input=false -backend-config=backend.hcl",
        f"-chdir={roots}/bootstrap plan -input=false -out=bootstrap.tfplan",
    ]
    (roots / "bootstrap" / "bootstrap.tfplan").write_text("stub plan")
    applied = _make(roots, "apply", "ENV=bootstrap")
    assert applied.returncode == 0, applied.stderr
    assert _terraform_calls(roots)[-1] == (
        f"-chdir={roots}/bootstrap apply -input=false bootstrap.tfplan"
    )
    assert not (roots / "bootstrap" / "bootstrap.tfplan").exists()


def test_an_unknown_environment_is_named(roots: Path) -> None:
    result = _make(roots, "plan", "ENV=staging")
    assert result.returncode != 0
    assert "ENV=bootstrap, dev or prod" in result.stderr
