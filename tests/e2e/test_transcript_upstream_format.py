"""`burrow transcript` plays Gopherbot's suite format unchanged, and Burrow's with threads.

Every test runs the real `burrow transcript` command against tests/robots/suites (a Lua robot
written for these tests) on suites in Gopherbot's format (tests/transcripts/gopherbot/) or
Burrow's (tests/transcripts/threads.yaml), and reads what it printed and its JSON results.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from support import ROOT, burrow

ROBOT = ROOT / "tests" / "robots" / "suites"
SUITES = ROOT / "tests" / "transcripts"


def transcript(
    tmp_path: Path, suite: Path, *extra: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """Run `burrow transcript` on one suite; its process and its JSON results."""
    results = tmp_path / "results.json"
    done = burrow("transcript", str(ROBOT), str(suite), "--json", str(results), *extra)
    data = json.loads(results.read_text()) if results.exists() else [{}]
    return done, data[0]


def write(tmp_path: Path, text: str) -> Path:
    suite = tmp_path / "suite.yaml"
    suite.write_text(text)
    return suite


def test_gopherbot_conventions_threads_hidden_replies_formats_and_prompts_pass_as_written(
    tmp_path: Path,
) -> None:
    done, results = transcript(tmp_path, SUITES / "gopherbot" / "conventions.yaml")

    assert done.returncode == 0, done.stdout + done.stderr
    assert "Gopherbot suite 'TranscriptConventions'" in done.stdout
    assert "8 passed, 0 failed" in done.stdout
    places, hidden, formats, _, answer, whoami = results["cases"][:6]
    # One thread, 0xDEADBEEF, quoted by the extension and carried by threaded replies.
    assert {s["thread_id"] for s in places["sent"] if s["threaded"]} == {"0xDEADBEEF"}
    assert [s["text"] for s in hidden["sent"]][:3] == ["(said)", "(said in a thread)", "(replied)"]
    assert hidden["input"]["hidden"] and hidden["input"]["text"] == "bender places"
    assert [s["text"] for s in formats["sent"]] == ["FIXED TEXT", "variable text", "Raw Text"]
    assert answer["input"]["threaded"] and answer["sent"][0]["text"] == "way: north"
    assert whoami["events"] == ["BotDirectMessage", "CommandTaskRan", "ExternalTaskRan"]


def test_gopherbot_events_are_checked_in_order_and_unrecorded_ones_reported(
    tmp_path: Path,
) -> None:
    done, results = transcript(tmp_path, SUITES / "gopherbot" / "events.yaml")

    assert done.returncode == 0, done.stdout + done.stderr
    assert "9 passed, 0 failed" in done.stdout
    assert (
        "  note: events not checked, as Burrow does not record them: ExternalTaskErrExit"
        in done.stdout
    )
    guarded = results["cases"][5]
    assert guarded["events"] == [
        "ExternalTaskRan",
        "AuthRanSuccess",
        "CommandTaskRan",
        "ExternalTaskRan",
    ]
    assert guarded["tasks"] == ["gate", "probe"]
    assert "note: before_start test_http_server: serving http://127.0.0.1:" in done.stdout


def test_events_that_differ_fail_with_a_readable_difference(tmp_path: Path) -> None:
    suite = write(
        tmp_path,
        "name: Wrong\ncases:\n"
        "  - input: {user: alice, channel: general, text: ;ping}\n"
        "    replies: [{user: alice, channel: general, text_pattern: PONG}]\n"
        "    events: [CommandTaskRan, ExternalTaskRan]\n"
        "  - input: {user: alice, channel: general, text: ;ping}\n"
        "    replies: [{user: alice, channel: general, text_pattern: PONG}]\n",
    )

    done, results = transcript(tmp_path, suite)

    assert done.returncode == 1
    assert (
        "  events: expected [CommandTaskRan, ExternalTaskRan]\n"
        "          got      [CommandTaskRan, GoPluginRan]"
    ) in done.stdout
    # No `events` and no `replies_only`: Gopherbot means "no events at all".
    assert "  events: expected []\n          got      [CommandTaskRan, GoPluginRan]" in done.stdout
    assert [c["passed"] for c in results["cases"]] == [False, False]


def test_replies_only_leaves_the_events_unchecked(tmp_path: Path) -> None:
    suite = write(
        tmp_path,
        "name: RepliesOnly\ncases:\n"
        "  - input: {user: alice, channel: general, text: ;ping}\n"
        "    replies: [{user: alice, channel: general, text_pattern: PONG}]\n"
        "    replies_only: true\n",
    )

    done, _ = transcript(tmp_path, suite)

    assert done.returncode == 0, done.stdout


def test_a_hidden_command_is_not_heard_by_a_connector_without_hidden_messages(
    tmp_path: Path,
) -> None:
    done, results = transcript(tmp_path, SUITES / "gopherbot" / "no_hidden.yaml")

    assert done.returncode == 0, done.stdout + done.stderr
    assert results["cases"][0]["sent"] == [] and results["cases"][0]["events"] == []
    assert "note: environment for the robot: GOPHER_ENVIRONMENT=development" in done.stdout


def test_a_prompt_in_a_thread_answered_outside_it_times_out(tmp_path: Path) -> None:
    suite = write(
        tmp_path,
        "name: Unthreaded\ncases:\n"
        "  - input: {user: alice, channel: general, text: ;thread ask}\n"
        "    replies: [{user: alice, channel: general, threaded: true, text_pattern: Which}]\n"
        "    replies_only: true\n"
        "  - input: {user: alice, channel: general, text: north}\n"
        "    replies: [{channel: general, text_pattern: 'way: north'}]\n"
        "    replies_only: true\n",
    )

    done, results = transcript(tmp_path, suite, "--timeout", "1s")

    assert done.returncode == 1
    assert [c["passed"] for c in results["cases"]] == [True, False]
    assert "got nothing" in results["cases"][1]["problems"][0]


def test_burrow_format_addresses_threads_by_message_id_and_checks_events(
    tmp_path: Path,
) -> None:
    done, results = transcript(tmp_path, SUITES / "threads.yaml")

    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 passed, 0 failed" in done.stdout
    places = results["cases"][0]["sent"]
    assert places[3] == {
        "user": "",
        "channel": "general",
        "threaded": True,
        "thread_id": "start",
        "text": "thread is start",
    }
    assert "alice in #general (thread ask): 'south'" in done.stdout


def test_burrow_format_reply_in_the_wrong_thread_is_a_difference(tmp_path: Path) -> None:
    suite = write(
        tmp_path,
        "cases:\n"
        "  - input: {user: alice, channel: general, text: ';thread ask', id: one}\n"
        "    replies: [{user: alice, channel: general, thread: two, text_pattern: Which}]\n",
    )

    done, _ = transcript(tmp_path, suite, "--timeout", "2s")

    assert done.returncode == 1
    assert "threaded=True thread='two' text~/Which/" in done.stdout
    assert "got      user='alice' channel='general' threaded=True thread='one'" in done.stdout


def test_a_late_reply_is_blamed_on_the_case_that_caused_it(tmp_path: Path) -> None:
    suite = write(
        tmp_path,
        "cases:\n"
        "  - input: {user: alice, channel: general, text: ';thread ask', id: q}\n"
        "    replies: []\n"
        "  - input: {user: bob, channel: general, text: 'just chatting'}\n"
        "    replies: []\n",
    )

    done, results = transcript(tmp_path, suite)

    assert done.returncode == 1
    first, second = results["cases"]
    assert not first["passed"] and second["passed"]
    assert "Which way?" in first["problems"][0]


def test_a_gopherbot_suite_with_both_cases_and_a_flow_is_refused_with_the_reason(
    tmp_path: Path,
) -> None:
    # Flow suites are played (tests/lua/test_lua_transcript_flow.py); Gopherbot would play the
    # flow and silently ignore the cases, so a file with both is refused.
    suite = write(
        tmp_path,
        "name: Flow\nconfig_dir: test/membrain\nflow:\n  - name: one\n    wait_for_idle: true\n"
        "cases:\n  - input: {user: alice, text: hi}\n",
    )

    done = burrow("transcript", str(ROBOT), str(suite))

    assert done.returncode == 2
    assert f"{suite}: a suite has either cases or a flow, not both" in done.stderr


def test_a_misspelt_gopherbot_key_is_named_with_its_line(tmp_path: Path) -> None:
    suite = write(
        tmp_path,
        "name: Typo\ncases:\n  - input: {user: alice, text: hi}\n    replies_olny: true\n"
        "  - input: {user: alice, text: hi}\n    events: [CommandRan]\n",
    )

    done = burrow("transcript", str(ROBOT), str(suite))

    assert done.returncode == 2
    assert "cases.0.replies_olny: Extra inputs are not permitted (line 4)" in done.stderr
    assert "cases.1.events: unknown event 'CommandRan'" in done.stderr
