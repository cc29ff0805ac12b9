"""What the robot says about pipelines on its own: job starts and ends, failure alerts.

Pure functions of a pipeline's facts, worded as upstream Gopherbot's engine words them
(https://github.com/lnxjedi/gopherbot/blob/main/bot/run_pipelines.go and
bot/pipeline_monitoring.go), so that chat transcripts and alert watchers written for it keep
working. `Pipeline` decides when each is said (engine/pipeline.py). Upstream numbers a job's
runs per job; Burrow's run number is the pipeline id, the one `ps` and `kill` use.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

from burrow.constants import TaskRetVal

__all__ = [
    "TAIL_BYTES",
    "TAIL_LINE_BYTES",
    "age_text",
    "failure_alert",
    "job_failed_note",
    "job_finished",
    "job_started",
    "log_tail",
    "queued",
    "requeued",
]

TAIL_BYTES = 3072  # a log excerpt at most, as upstream's tail-log
TAIL_LINE_BYTES = 512  # one line of it at most
_CUT = " ..."


def ret_text(ret: int) -> str:
    """`1 (Fail)`: a TaskRetVal as upstream prints it."""
    name = TaskRetVal(ret).name if ret in TaskRetVal._value2member_map_ else "UnknownTaskRetVal"
    return f"{ret} ({name})"


def job_started(
    name: str,
    args: Sequence[str],
    run: int,
    trigger: str,
    user: str,
    channel: str,
    spawned_by: tuple[str, str] | None = None,
) -> str:
    """The announcement of a job's start, by what started it (`Pipeline.trigger`).

    `channel` is where it was started ("" for a direct message); `spawned_by` names the
    pipeline that spawned it and that pipeline's description.
    """
    info = " ".join([name, *args])
    where = channel or "(direct message)"
    if trigger == "triggered":
        return f"Starting job '{info}', run {run} - triggered by app '{user}' in channel '{where}'"
    if trigger == "job-command":
        return f"Starting job '{info}', run {run} - requested by user '{user}' in channel '{where}'"
    if trigger == "spawned" and spawned_by is not None:
        parent, description = spawned_by
        return f"Starting job '{info}', run {run} - spawned by pipeline '{parent}': {description}"
    if trigger == "scheduled":
        return f"Starting scheduled job '{info}', run {run}"
    if trigger == "init":
        return f"Starting init job '{info}', run {run}"
    return f"Starting job '{info}', run {run}"


def job_finished(
    name: str,
    run: int,
    ret: int,
    final_kind: str,
    final_task: str,
    final_description: str = "",
    abort_tag: str = "",
) -> str:
    """The announcement of a job's end: its last primary task, and how it went."""
    if ret == TaskRetVal.Normal:
        return f"Finished job '{name}', run {run}, final task '{final_task}', status: normal"
    if ret == TaskRetVal.PipelineAborted and abort_tag:
        return (
            f"Job '{name}', run number {run} aborted, exclusive job '{abort_tag}' "
            "already in progress"
        )
    described = f" - {final_description}" if final_description else ""
    return (
        f"Job '{name}', run number {run} failed in {final_kind}: '{final_task}'{described}, "
        f"exit code: {ret_text(ret)}"
    )


def job_failed_note(final_task: str, ret: int) -> str:
    """What a failed job without fail tasks says before its log excerpt."""
    return f"pipeline failed in task {final_task} with exit code {ret_text(ret)}; log excerpt:"


def queued(task: str, pipeline: str) -> str:
    """Said when a task waits for an Exclusive tag another pipeline holds."""
    return f"Queueing task '{task}' in pipeline '{pipeline}'"


def requeued(task: str, pipeline: str) -> str:
    """Said when that task starts again, the tag being free."""
    return f"Re-starting queued task '{task}' in pipeline '{pipeline}'"


def age_text(seconds: float) -> str:
    """An age as upstream shows it: `42s`, `5m`, `3h20m`, `2d4h`."""
    whole = max(0, round(seconds))
    if whole < 120:
        return f"{whole}s"
    minutes = whole // 60
    if minutes < 60:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 24:
        return f"{hours}h{minutes % 60}m"
    return f"{hours // 24}d{hours % 24}h"


def failure_alert(
    ret: int,
    pipeline_id: int,
    pipeline_name: str,
    current_task: str,
    started_at: float,
    age: float,
    detail: str = "",
    excerpt: str = "",
    time_zone: str = "",
) -> str:
    """The alert to the operator channel when a pipeline fails (Markdown)."""
    zone = ZoneInfo(time_zone) if time_zone else None
    clock = time.strftime("%b %d %H:%M:%S", _local(started_at, zone))
    clock = clock[:4] + clock[4:6].lstrip("0") + clock[6:]  # `Jan 2`, as Go's layout
    lines = [
        f"Pipeline failure: exit code {ret_text(ret)}",
        f"WID: `{pipeline_id}`",
        f"Pipeline: `{pipeline_name}`",
    ]
    if current_task:
        lines.append(f"Current task: `{current_task}`")
    lines += [f"Started: `{clock}`", f"Age: `{age_text(age)}`"]
    if detail.strip():
        lines.append(f"Failure detail: `{detail.strip()}`")
    if excerpt:
        lines += ["Recent log:", "```", excerpt, "```"]
    return "\n".join(lines)


def _local(when: float, zone: ZoneInfo | None) -> time.struct_time:
    if zone is None:
        return time.localtime(when)
    from datetime import datetime

    return datetime.fromtimestamp(when, zone).timetuple()


def log_tail(path: Path | None, budget: int = TAIL_BYTES, line_bytes: int = TAIL_LINE_BYTES) -> str:
    """The last lines of a pipeline log, at most `budget` bytes, each cut at `line_bytes`."""
    if path is None:
        return ""
    try:
        with path.open("rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            start = max(0, size - 64 * budget)  # far more than the budget, never the lot
            handle.seek(start)
            data = handle.read()
    except OSError:
        return ""
    lines = data.decode("utf-8", "replace").splitlines()
    if start > 0:
        lines = lines[1:]  # it begins inside a line
    kept: list[str] = []
    used = 0
    for line in reversed(lines):
        raw = line.encode()
        if len(raw) > line_bytes:
            line = raw[:line_bytes].decode("utf-8", "ignore") + _CUT
        cost = len(line.encode()) + 1
        if used + cost > budget:
            break
        kept.append(line)
        used += cost
    return "\n".join(reversed(kept)).strip()
