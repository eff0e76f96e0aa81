"""tools/system_deps.sh: what `make test` installs on a fresh machine, or tells you to install.

The script runs with fake `id`, `apt-get` and `node` first on PATH, so no test installs
anything and the root and non-root paths are both exercised on any machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tools.manifest import ROOT

SCRIPT = ROOT / "tools" / "system_deps.sh"


def _executable(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def _run(
    tmp_path: Path, *wanted: str, uid: int, node_version: str | None, chromium: bool
) -> tuple[subprocess.CompletedProcess[str], Path]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    chromium_path = tmp_path / "chromium"
    if chromium:
        _executable(chromium_path, "exit 0\n")
    _executable(bin_dir / "id", f"echo {uid}\n")
    calls = tmp_path / "apt-calls"
    # A fake apt-get that "installs" chromium by creating the executable the script checks.
    _executable(
        bin_dir / "apt-get",
        f'echo "$@" >> {calls}\n'
        f'case "$*" in *install*chromium*) printf "#!/bin/sh\\n" > {chromium_path}; '
        f"chmod +x {chromium_path};; esac\n",
    )
    if node_version is not None:
        _executable(bin_dir / "node", f"echo {node_version}\n")
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "PYTHON": sys.executable,
        "CHROMIUM": str(chromium_path),
        "NODE": str(bin_dir / "node"),
    }
    result = subprocess.run(
        ["bash", str(SCRIPT), *wanted],
        env={**env, "HOME": os.environ.get("HOME", "/tmp")},
        capture_output=True,
        text=True,
        check=False,
    )
    return result, calls


def test_nothing_to_do_prints_nothing(tmp_path: Path) -> None:
    result, calls = _run(tmp_path, uid=1000, node_version="22.3.0", chromium=True)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert not calls.exists()


def test_without_root_it_names_the_exact_command_and_fails(tmp_path: Path) -> None:
    result, calls = _run(tmp_path, uid=1000, node_version=None, chromium=False)
    assert result.returncode == 1
    assert "sudo apt-get install -y nodejs chromium" in result.stderr
    assert "CHROMIUM=/path/to/chromium" in result.stderr
    assert not calls.exists()


def test_as_root_it_installs_what_is_missing_with_apt(tmp_path: Path) -> None:
    result, calls = _run(tmp_path, "chromium", uid=0, node_version=None, chromium=False)
    assert result.returncode == 0, result.stderr
    assert "installing chromium with apt-get" in result.stderr
    lines = calls.read_text().splitlines()
    assert lines[0].startswith("update")
    assert lines[1].startswith("install") and lines[1].endswith("chromium")
    assert os.access(tmp_path / "chromium", os.X_OK)


def test_an_install_that_does_not_help_is_reported(tmp_path: Path) -> None:
    # apt's nodejs is older than the tests need: the install "succeeds" but node stays too old.
    result, calls = _run(tmp_path, "node", uid=0, node_version="18.19.0", chromium=True)
    assert result.returncode == 1
    assert "nodejs" in calls.read_text()
    assert "Node.js >= 20.11 is needed (found: 18.19.0)" in result.stderr


def test_node_version_boundary(tmp_path: Path) -> None:
    ok, _ = _run(tmp_path, "node", uid=1000, node_version="20.11.0", chromium=True)
    old, _ = _run(tmp_path, "node", uid=1000, node_version="20.10.9", chromium=True)
    assert ok.returncode == 0
    assert old.returncode == 1


def test_unknown_requirement_is_a_usage_error(tmp_path: Path) -> None:
    result, _ = _run(tmp_path, "docker", uid=1000, node_version="22.0.0", chromium=True)
    assert result.returncode == 2
    assert "unknown requirement 'docker'" in result.stderr
