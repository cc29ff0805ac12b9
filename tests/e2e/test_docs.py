"""Documentation that must keep up with the code."""

from __future__ import annotations

from pathlib import Path

from burrow.robot_api.dispatcher import served_methods

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_every_served_robot_method_has_its_result_keys_documented() -> None:
    table = (DOCS / "protocol.md").read_text().split("### Result keys per Robot method", 1)[1]
    missing = [m for m in served_methods() if f"`{m}`" not in table]
    assert missing == []
