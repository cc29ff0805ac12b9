"""The report of a transcript run: readable text, and the same as JSON for tools."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from burrow.transcript.play import CaseResult, SuiteRun


def _title(r: CaseResult) -> str:
    if r.title:  # a flow step's
        return r.title
    i = r.case.input
    where = f"#{i.channel}" if i.channel else "DM"
    if i.thread:
        where += f" (thread {i.thread})"
    elif i.threaded:
        where += " (thread)"
    name = f" ({r.case.name})" if r.case.name else ""
    hidden = " hidden" if i.hidden else ""
    return f"case {r.index}{name}: {i.user} in {where}:{hidden} {i.text!r}"


def report(path: Path, run: SuiteRun) -> tuple[str, bool]:
    """A readable report and whether every case passed."""
    lines = []
    plan = run.plan
    if plan.format == "gopherbot":
        lines.append(f"{path}: Gopherbot suite {plan.name!r}")
    lines += [f"note: {note}" for note in run.notes]
    for r in run.results:
        lines.append(f"{'ok  ' if r.passed else 'FAIL'} {_title(r)}")
        lines += [f"  {p}" for p in r.problems]
        lines += [f"  note: {note}" for note in r.notes]
    lines.append(f"{path}: {len(run.results) - run.failed} passed, {run.failed} failed")
    return "\n".join(lines), run.failed == 0


def as_json(path: Path, run: SuiteRun) -> dict[str, Any]:
    """The report as plain data: every case with its input, replies, events and tasks run."""
    return {
        "file": str(path),
        "name": run.plan.name,
        "format": run.plan.format,
        "notes": list(run.notes),
        "passed": len(run.results) - run.failed,
        "failed": run.failed,
        "cases": [
            {
                "index": r.index,
                "name": r.case.name,
                "title": _title(r),
                "passed": r.passed,
                "problems": list(r.problems),
                "notes": list(r.notes),
                "input": r.case.input.model_dump(),
                "sent": [
                    {
                        "user": s.user,
                        "channel": s.channel,
                        "threaded": s.threaded,
                        "thread_id": s.thread_id,
                        "text": s.text,
                    }
                    for s in r.got
                ],
                "events": [e.event.value for e in r.events],
                "tasks": [e.task for e in r.events if e.task],
            }
            for r in run.results
        ],
    }
