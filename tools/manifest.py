"""Where the repository and its module manifest are: the one definition every tool reads.

`modules/websocket_api/manifest.json` is read by Terraform, the build, the local gateway,
the moto fixtures, the offline plans and the benchmarks; each of them finds it here, so
moving the file (or the repository layout) is a change in one place.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MANIFEST_PATH = ROOT / "modules" / "websocket_api" / "manifest.json"


def read_manifest(path: Path = MANIFEST_PATH) -> dict[str, Any]:
    """The manifest's raw JSON (the local gateway's typed view parses it further)."""
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data
