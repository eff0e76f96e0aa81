"""The offline Terraform toolchain: a filesystem mirror holding the stand-in AWS provider.

`ensure()` (idempotent, cheap) writes, under build/terraform/:

- mirror/registry.terraform.io/hashicorp/aws/<version>/<os>_<arch>/
  terraform-provider-aws_v<version>, a shell script that execs this venv's Python on
  `tools.terraform.provider`;
- terraformrc, a CLI configuration that installs hashicorp/aws from that mirror only and
  everything else directly (nothing else is used, so nothing is downloaded).
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
from pathlib import Path

from tools.manifest import ROOT

PROVIDER_VERSION = "6.69.1"
PROVIDER_SOURCE = "registry.terraform.io/hashicorp/aws"
ENV_MARKER = "TF_OFFLINE_CLI_ENV"
_ARCHES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def build_dir() -> Path:
    """Where the mirror lives; TF_OFFLINE_DIR overrides build/terraform."""
    return Path(os.environ.get("TF_OFFLINE_DIR", ROOT / "build" / "terraform"))


def platform_dir() -> str:
    """Terraform's <os>_<arch> name for this machine (linux_amd64, linux_arm64, ...)."""
    machine = platform.machine().lower()
    return f"{sys.platform.removesuffix('32')}_{_ARCHES.get(machine, machine)}"


def _write_if_changed(path: Path, text: str, mode: int = 0o644) -> None:
    """Atomic replace, so concurrent runs never see (or exec) a half-written file."""
    if path.exists() and path.read_text() == text and (path.stat().st_mode & 0o777) == mode:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.chmod(mode)
    tmp.replace(path)


def scratch_dir(prefix: str) -> Path:
    """A fresh directory under build/terraform for one run (runs may overlap)."""
    base = build_dir()
    base.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{prefix}-", dir=base))


def plugin_script() -> str:
    return (
        "#!/bin/sh\n"
        "# Stand-in hashicorp/aws provider, written by tools/terraform/toolchain.py.\n"
        f'PYTHONPATH="{ROOT}${{PYTHONPATH:+:$PYTHONPATH}}" \\\n'
        f'  exec "{sys.executable}" -m tools.terraform.provider "$@"\n'
    )


def cli_config(mirror: Path) -> str:
    return (
        "# Written by tools/terraform/toolchain.py: offline provider installation.\n"
        "disable_checkpoint = true\n"
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f'    path    = "{mirror}"\n'
        f'    include = ["{PROVIDER_SOURCE}"]\n'
        "  }\n"
        "  direct {\n"
        f'    exclude = ["{PROVIDER_SOURCE}"]\n'
        "  }\n"
        "}\n"
    )


def ensure() -> Path:
    """Write the mirror and CLI config if missing or stale; return the config path."""
    base = build_dir()
    mirror = base / "mirror"
    plugin = (
        mirror
        / PROVIDER_SOURCE
        / PROVIDER_VERSION
        / platform_dir()
        / f"terraform-provider-aws_v{PROVIDER_VERSION}"
    )
    _write_if_changed(plugin, plugin_script(), 0o755)
    config = base / "terraformrc"
    _write_if_changed(config, cli_config(mirror))
    return config


# A user's Terraform settings must not leak in: TF_PLUGIN_CACHE_DIR would copy the stand-in
# into their real plugin cache as hashicorp/aws 6.69.1; TF_VAR_*, TF_CLI_ARGS*, TF_DATA_DIR
# and TF_WORKSPACE would change what is checked.
_STRIPPED_PREFIXES = ("TF_VAR_", "TF_CLI_ARGS")
_STRIPPED = {
    "TF_PLUGIN_CACHE_DIR",
    "TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE",
    "TF_DATA_DIR",
    "TF_WORKSPACE",
}


def environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for one Terraform command: quiet, non-interactive, offline config."""
    env = {
        k: v
        for k, v in (os.environ if base is None else base).items()
        if not k.startswith(_STRIPPED_PREFIXES) and k not in _STRIPPED
    }
    # Always ours: the offline checks must install hashicorp/aws from the mirror only.
    env["TF_CLI_CONFIG_FILE"] = str(ensure())
    env["CHECKPOINT_DISABLE"] = "1"
    env["TF_IN_AUTOMATION"] = "1"
    env["TF_INPUT"] = "0"
    env[ENV_MARKER] = "1"  # the CLI runs directly in this environment, no re-exec
    # Terraform runs from the roots' directories; the CLI module lives in this repository.
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = f"{ROOT}{os.pathsep}{path}" if path else str(ROOT)
    return env
