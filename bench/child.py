"""A measurement in a fresh interpreter: imports and client builds are only cold there.

Each child prints its result as the last line of its output; a child that fails ends with
its exception on stderr, whose last line is what the results report.
"""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence


def run_python(args: Sequence[str], env: Mapping[str, str], timeout: float) -> str:
    """The last line `python <args>` (this interpreter) prints; RuntimeError if it fails."""
    proc = subprocess.run(  # noqa: S603 - this interpreter, our own probes and modules
        [sys.executable, *args],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        errors = proc.stderr.strip().splitlines()
        raise RuntimeError(errors[-1] if errors else f"exit status {proc.returncode}")
    return proc.stdout.strip().splitlines()[-1]
