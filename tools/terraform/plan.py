"""Plan (and apply, against the stand-in) an environment root offline, for tests and checkov.

`terraform/dev` reads the Lambda artifacts of `make build`. To keep the checks independent
of a real build, `write_artifacts()` creates small placeholder zips and the manifest in the
shape of `make build`'s output (see docs/ARCHITECTURE.md) inside the work copy, at the
`build/` directory the root points at, and the run also passes `-var artifacts_dir=...`
when the root declares that variable.

`apply` here never touches AWS: it runs against the stand-in provider with local state in
the work copy, so the resulting state shows every value with placeholders for what AWS
would assign (ARNs, ids); policies built from them become complete JSON.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import zipfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tools.manifest import read_manifest
from tools.terraform import check

if TYPE_CHECKING:
    from pathlib import Path

DEFAULT_RUNTIME = "python3.13"
DEFAULT_ARCH = "arm64"


LOCAL_BACKEND_OVERRIDE = """\
# Written by tools/terraform/plan.py in the offline work copy only: local state.
terraform {
  backend "local" {}
}
"""


class TerraformError(RuntimeError):
    """A Terraform command failed; the message carries its output."""


@dataclass
class PlanRun:
    """What one offline plan (and apply) of a root produced."""

    root: Path
    plan: dict[str, Any]
    state: dict[str, Any] | None
    plan_json_path: Path


def _zip(path: Path, member: str, text: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(member, text)
    return base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode()


def write_artifacts(
    dest: Path, runtime: str = DEFAULT_RUNTIME, architecture: str = DEFAULT_ARCH
) -> Path:
    """Placeholder `make build` output: layer.zip, functions/<name>.zip and manifest.json."""
    functions = read_manifest()["functions"]
    layer = _zip(dest / "layer.zip", "python/wscore/__init__.py", "# placeholder\n")
    manifest = {
        "runtime": runtime,
        "architecture": architecture,
        "xray_sdk": False,
        "layer": {"file": "layer.zip", "sha256_base64": layer},
        "functions": {
            name: {
                "file": f"functions/{name}.zip",
                "sha256_base64": _zip(
                    dest / "functions" / f"{name}.zip",
                    f"{name}.py",
                    "def handler(event, context):\n    return None\n",
                ),
            }
            for name in sorted(functions)
        },
    }
    (dest / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return dest


def declares_variable(root: Path, name: str) -> bool:
    """True when a .tf file directly in root declares `variable "<name>"`."""
    pattern = re.compile(rf'^\s*variable\s+"{re.escape(name)}"', re.M)
    return any(pattern.search(p.read_text()) for p in root.glob("*.tf"))


def _must(result: check.Result) -> check.Result:
    if result.returncode != 0:
        raise TerraformError(f"terraform {result.label} failed:\n{result.output}")
    return result


def plan_root(
    work: Path,
    rel: str = "terraform/dev",
    apply: bool = True,
    extra_vars: dict[str, str] | None = None,
) -> PlanRun:
    """Copy the trees to work, write artifacts, init, plan -out, show -json (and apply)."""
    check.copy_tree(work)
    artifacts = write_artifacts(work / "build")
    root = work / rel
    tf_vars = dict(extra_vars or {})
    if declares_variable(root, "artifacts_dir"):
        tf_vars.setdefault("artifacts_dir", str(artifacts))
    var_args = [f"-var={k}={v}" for k, v in sorted(tf_vars.items())]
    # `plan` needs an initialised backend: swap the root's (S3) for local state in the copy.
    (root / "offline_backend_override.tf").write_text(LOCAL_BACKEND_OVERRIDE)
    _must(check.run(["init", "-input=false", "-no-color"], root, f"init {rel}"))
    _must(
        check.run(
            ["plan", "-input=false", "-no-color", "-out=offline.tfplan", *var_args],
            root,
            f"plan {rel}",
        )
    )
    shown = _must(check.run(["show", "-json", "-no-color", "offline.tfplan"], root, "show plan"))
    plan_json_path = root / "offline-plan.json"
    plan_json_path.write_text(shown.stdout)
    state = None
    if apply:
        _must(check.run(["apply", "-input=false", "-no-color", "offline.tfplan"], root, "apply"))
        state = json.loads(_must(check.run(["show", "-json", "-no-color"], root, "show")).stdout)
    return PlanRun(root, json.loads(shown.stdout), state, plan_json_path)
