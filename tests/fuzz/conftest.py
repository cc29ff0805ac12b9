"""After a fuzz run, say how much was fuzzed (for long runs with BURROW_FUZZ_EXAMPLES)."""

from __future__ import annotations

import pytest


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    from fuzz_support import SENT

    if SENT:
        terminalreporter.write_line(
            "fuzz: " + ", ".join(f"{value} {key}" for key, value in sorted(SENT.items()))
        )
