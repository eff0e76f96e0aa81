"""The action names live in one place (wscore.protocol.Action), read by every handler and
checked against the manifest that Terraform and the local gateway route by."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from wscore.protocol import ACTIONS, ROUTE_KEYS, SYSTEM_ROUTES, Action

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = json.loads((ROOT / "modules/websocket_api/manifest.json").read_text())
ROUTED = {name: fn["route"] for name, fn in MANIFEST["functions"].items() if "route" in fn}


def test_the_manifest_routes_exactly_the_protocol() -> None:
    assert sorted(ROUTED.values()) == sorted(ROUTE_KEYS)
    assert set(ACTIONS) == {str(a) for a in Action}
    assert not set(ACTIONS) & set(SYSTEM_ROUTES)


@pytest.mark.parametrize("function", sorted(n for n, r in ROUTED.items() if r in ACTIONS))
def test_each_action_handler_answers_for_the_route_it_is_deployed_on(function: str) -> None:
    """Read statically: importing a handler builds the container's services (cold start)."""
    tree = ast.parse((ROOT / "lambda_src/handlers" / f"{function}.py").read_text())
    declared = [
        node.value.attr
        for node in tree.body
        if isinstance(node, ast.Assign)
        and [t.id for t in node.targets if isinstance(t, ast.Name)] == ["ACTION"]
        and isinstance(node.value, ast.Attribute)
        and isinstance(node.value.value, ast.Name)
        and node.value.value.id == "Action"
    ]
    assert [Action[name] for name in declared] == [ROUTED[function]]
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "handle_action"
    ]
    assert [ast.unparse(call.args[1]) for call in calls] == ["ACTION"]
