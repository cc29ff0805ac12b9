"""An extension's text in the robot's logs: one bounded line each, never a line of the robot's.

A real robot on the test connector runs scripted extensions of the test binding in real
children; the tests read the pipeline log files it wrote to disk and the Python log records.
"""

from __future__ import annotations

import logging
import re
import textwrap
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from burrow.connectors.testing import TestConnector
from burrow.engine.logline import LINE_LIMIT, log_text
from burrow.engine.pipeline import LogBudget
from burrow.engine.robot import Robot
from support import run

ROBOT_YAML = """\
BotInfo: {UserName: burrow, FullName: Burrow Robot, Email: burrow@example.com}
Alias: ";"
UserRoster:
  - {UserName: bob, UserID: U002, Email: bob@example.com, FullName: Bob User}
DefaultChannels: [general]
ExternalPlugins:
  ext: {Path: ext/ext.test}
"""

HEADER = "config: |\n  Commands: [{Command: go, Regex: go}]\ncommands:\n  go:\n"

# The robot's own line: timestamp, level, pipeline id, then the message.
ROBOT_LINE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d [A-Z0-9]+ *\[\d+\] ")
# A line that carries the extension's text says whose it is right after the pipeline id.
EXTENSION_LINE = re.compile(ROBOT_LINE.pattern + r"ext[: ]")
FORGED = "2030-01-01T00:00:00 AUDIT [1] forged"


def run_extension(root: Path, steps: str) -> tuple[list[str], str]:
    """Run plugin `ext` with `steps` once (bob says ';go'); return the replies and the log text."""
    (root / "conf").mkdir(parents=True)
    (root / "ext").mkdir()
    (root / "conf" / "robot.yaml").write_text(ROBOT_YAML)
    (root / "ext" / "ext.test").write_text(HEADER + textwrap.indent(steps, "    "))

    async def main() -> list[str]:
        robot = Robot(root, state_dir=root / "state")
        await robot.load()
        connector = TestConnector({})
        await robot.start({"test": connector}, primary="test")
        try:
            assert await robot.plugins_initialized(30.0)  # the start-up `_init`s come first
            await connector.inject("bob", ";go", "general")
            sent = await connector.next_sent(60.0)
            assert sent is not None, "the extension never answered"
            return [sent.text]
        finally:
            await robot.stop(grace=2.0)

    replies = run(main())
    logs = [
        path
        for path in sorted((root / "state" / "logs").glob("pipeline-*.log"))
        if not path.read_text(errors="replace").split("\n", 1)[0].endswith(" _init")
    ]
    assert len(logs) == 1, logs
    return replies, logs[0].read_bytes().decode("utf-8")


def test_one_huge_log_line_is_cut_to_the_line_limit_and_says_how_much(tmp_path: Path) -> None:
    size = 10 * 1024 * 1024
    replies, text = run_extension(
        tmp_path,
        f"- [Log, 2, \"='z' * {size}\"]\n- {{print: \"='y' * {size // 8}\"}}\n- [Say, done]\n",
    )
    assert replies == ["done"]
    assert len(text.encode()) < 64 * 1024, "a 10 MiB line reached the pipeline log"
    lines = text.splitlines()
    assert all(len(line.encode()) <= LINE_LIMIT + 100 for line in lines)
    logged = [line for line in lines if "ext: zzz" in line]
    assert len(logged) == 1
    kept = logged[0].count("z")
    cut = int(re.search(r"…\[(\d+) bytes cut\]$", logged[0]).group(1))
    assert kept + cut == size  # nothing lost silently: every byte is either shown or counted
    assert any("stderr: yyy" in line and "bytes cut]" in line for line in lines)


def test_the_log_budget_counts_bytes_not_characters(tmp_path: Path) -> None:
    # 100 lines of 2,000 three-byte characters: 200,000 characters (under the 256 KiB budget
    # if characters were counted) but 600,000 bytes.
    replies, text = run_extension(
        tmp_path, "- [Log, 2, \"='€' * 2000\"]\n" * 100 + "- [Say, done]\n"
    )
    assert replies == ["done"]
    assert "log limit reached" in text
    size = len(text.encode())
    assert LogBudget.LIMIT <= size < LogBudget.LIMIT + 2 * LINE_LIMIT


FORGERIES = [
    f"x\n{FORGED}",  # a new line
    f"x\r{FORGED}",  # a carriage return: a new line for splitlines() and some viewers
    f"x\r\n{FORGED}\n",
    f"x\x1b[2K\r{FORGED}",  # erase the line on a terminal, then write over it
    f"x\x0b{FORGED}",
    f"x\x85{FORGED}",  # NEL
    f"x\u2028{FORGED}",  # LINE SEPARATOR
    f"x\u2029{FORGED}",  # PARAGRAPH SEPARATOR
    f"x\u202e{FORGED}",  # RIGHT-TO-LEFT OVERRIDE: shows the text reversed
]


def _yaml(text: str) -> str:
    """A double-quoted YAML scalar for `text` (YAML escapes are a superset of these)."""
    escaped = "".join(c if c.isprintable() and c not in '"\\' else f"\\u{ord(c):04x}" for c in text)
    return f'"{escaped}"'


def test_an_extension_cannot_write_a_line_that_reads_as_the_robots(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    steps = "".join(f"- [Log, 2, {_yaml(forgery)}]\n" for forgery in FORGERIES)
    steps += "".join(f"- {{print: {_yaml(forgery)}}}\n" for forgery in FORGERIES)
    steps += f"- [Say, done]\n- {{fail: {_yaml(FORGERIES[0])}}}\n"  # the robot quotes the error
    with caplog.at_level(logging.DEBUG, logger="burrow.pipeline"):
        replies, text = run_extension(tmp_path, steps)
    assert replies == ["done"]
    # Only "\n" ends a line in the file, and every line is the robot's own format; each line
    # holding the extension's text names the extension before that text starts.
    assert text.endswith("\n") and text.splitlines() == text[:-1].split("\n")
    lines = text.splitlines()
    assert all(ROBOT_LINE.match(line) for line in lines), lines
    assert not [line for line in lines if line.startswith("2030-")]
    forged = [line for line in lines if "forged" in line]
    # Each forgery twice (Log and stderr), then the failure's message and its stderr tail.
    assert len(forged) >= 2 * len(FORGERIES) + 1
    assert all(EXTENSION_LINE.match(line) for line in forged), forged
    assert not [c for c in text if c != "\n" and unicodedata.category(c) in ("Cc", "Zl", "Zp")]
    assert "\u202e" not in text and "x\\n2030-01-01T00:00:00 AUDIT [1] forged" in text
    # The robot's Python log records carry the same escaped text.
    records = [r.getMessage() for r in caplog.records if r.name == "burrow.pipeline"]
    assert sum("forged" in message for message in records) >= len(forged)
    for message in records:
        assert len(message.splitlines()) == 1, message
        assert not [c for c in message if unicodedata.category(c) in ("Cc", "Zl", "Zp")]


@given(st.text(), st.integers(min_value=16, max_value=LINE_LIMIT))
def test_log_text_is_always_one_bounded_line_that_keeps_what_is_safe(text: str, limit: int) -> None:
    line = log_text(text, limit)
    assert len(line.splitlines()) <= 1 and "\x1b" not in line and "\u202e" not in line
    line.encode("utf-8")  # lone surrogates are escaped too: the line can always be written
    marker = re.search(r"…\[(\d+) bytes cut\]$", line)
    shown = line[: marker.start()] if marker else line
    assert len(shown.encode()) <= limit
    if marker:
        assert int(marker.group(1)) > 0 and len(text.encode("utf-8", "surrogatepass")) > limit // 6
    safe = "".join(c for c in text if c.isprintable() or c == "\t")
    if safe == text and len(text.encode()) <= limit:
        assert line == text  # ordinary text is logged exactly as written
