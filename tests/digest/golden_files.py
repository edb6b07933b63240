"""Golden files: compared exactly; `UPDATE_GOLDEN=1` rewrites them (then review the diff by eye)."""

from __future__ import annotations

import os
from pathlib import Path

GOLDEN_DIR = Path(__file__).parent / "golden"


def check_golden(name: str, actual: str) -> None:
    """Assert that `actual` equals the golden file `name`, or rewrite it when UPDATE_GOLDEN is set."""
    path = GOLDEN_DIR / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(actual, encoding="utf-8")
        return
    assert path.exists(), f"golden file {name} is missing: run with UPDATE_GOLDEN=1 and review it"
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, f"{name} differs from its golden file (UPDATE_GOLDEN=1 rewrites it)"
