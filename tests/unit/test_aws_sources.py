"""Rules for the hand-written AWS wire code as a whole (wscore.aws).

Docstrings say why and point to docs/PERFORMANCE.md for how much: figures copied into code
drift from the measurements. No code lives on for the tests alone, and a constant that
several modules share is defined once.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from wscore import aws

PACKAGE = Path(aws.__file__).parent
SOURCES = sorted(PACKAGE.glob("*.py"))
LAMBDA_SRC = PACKAGE.parent.parent
# An approximation (~50x, ~2.6 ms), a ratio (1.7-3x) or a duration of work (microseconds).
FIGURE = re.compile(r"~\s*\d|\b\d+(?:\.\d+)?(?:-\d+(?:\.\d+)?)?x\b|microsecond|millisecond")
# Process-wide state the tests must be able to reset.
TEST_HOOKS = {"reset_clients"}


def docstrings(tree: ast.Module) -> list[str]:
    kinds = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    return [
        doc
        for node in ast.walk(tree)
        if isinstance(node, kinds) and (doc := ast.get_docstring(node))
    ]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_docstrings_cite_no_performance_figures(path: Path) -> None:
    found = [
        m.group() for doc in docstrings(ast.parse(path.read_text())) for m in FIGURE.finditer(doc)
    ]
    assert found == [], f"{path.name}: point to docs/PERFORMANCE.md instead of citing {found}"


def test_every_top_level_definition_is_used_by_the_lambda_code() -> None:
    code = "\n".join(path.read_text() for path in LAMBDA_SRC.rglob("*.py"))
    unused = [
        f"{path.name}:{node.name}"
        for path in SOURCES
        for node in ast.parse(path.read_text()).body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        and node.name not in TEST_HOOKS
        and len(re.findall(rf"\b{node.name}\b", code)) < 2  # the definition itself
    ]
    assert unused == []


def test_the_network_error_status_is_defined_once() -> None:
    """Transports report it, the client retries on it: one definition, with the protocol."""
    definers = [p.name for p in SOURCES if re.search(r"^NETWORK_ERROR\b", p.read_text(), re.M)]
    assert definers == ["management.py"]
