"""`make help`: the targets a user needs first, in order, then the others."""

from __future__ import annotations

import subprocess

from tools.manifest import ROOT

FIRST = ["dev", "test", "token", "publish", "build", "plan", "apply", "bench"]


def _targets(section: str) -> list[str]:
    return [line.split()[0] for line in section.splitlines() if line.startswith("  ")]


def test_help_lists_the_first_targets_first_then_the_rest() -> None:
    out = subprocess.run(
        ["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    start, other = out.split("Other targets:")
    assert start.startswith("Start here:")
    assert _targets(start) == FIRST
    rest = _targets(other)
    assert {"lint", "clean", "system-deps", "tf-check"} <= set(rest)
    assert not set(FIRST) & set(rest)
    assert all(line.split(maxsplit=1)[1:] for line in out.splitlines() if line.startswith("  "))


def test_plain_make_shows_the_help() -> None:
    out = subprocess.run(["make", "-s"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.startswith("Start here:")
