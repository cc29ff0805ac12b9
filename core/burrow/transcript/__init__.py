"""Conversation transcripts: play cases against a real robot on the test connector.

Two file formats (docs/transcripts.md): Burrow's own (`burrow.transcript.model`) and
Gopherbot's integration suites, read unchanged (`burrow.transcript.gopherbot`). `load_suite`
tells them apart, `play` runs one against a robot, `report` and `as_json` say how it went.
"""

from __future__ import annotations

from pathlib import Path

from burrow.transcript.gopherbot import is_gopherbot_suite, load_gopherbot_suite
from burrow.transcript.model import (
    Case,
    Expected,
    Input,
    Plan,
    Suite,
    TranscriptError,
    load_burrow_suite,
    read_yaml,
)
from burrow.transcript.play import CaseResult, SuiteRun, compare, compare_events, play
from burrow.transcript.report import as_json, report

__all__ = [
    "Case",
    "CaseResult",
    "Expected",
    "Input",
    "Plan",
    "Suite",
    "SuiteRun",
    "TranscriptError",
    "as_json",
    "compare",
    "compare_events",
    "load_suite",
    "play",
    "report",
]


def load_suite(path: Path) -> Plan:
    """Read and validate a transcript file in either format."""
    data, lines = read_yaml(path)
    if is_gopherbot_suite(data):
        return load_gopherbot_suite(path, data, lines)
    return load_burrow_suite(path, data, lines)
