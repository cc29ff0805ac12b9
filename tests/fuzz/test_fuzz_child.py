"""Fuzzing the child: a fake parent feeds fuzzed frames to the real `python -m burrow.child`.

The child loads the transport test binding (tests/testbinding) and gets the fuzzed input on
stdin, then EOF. Each input may start with a correct `$/hello` so that its fuzzed frames also
reach the execution phase; execution requests use only test-binding commands that finish on
their own. Properties, for every input:

- the child exits within a bound after EOF, with status 0 or 2 (a protocol failure);
- everything it writes on stdout is a well-formed frame, and every error it answers has a
  protocol error code and a non-empty message;
- its stderr holds only its own one-line `burrow.child[pid]: ...` notes, never a traceback;
- its process group is gone afterwards.

CI runs a bounded number of examples; `BURROW_FUZZ_EXAMPLES=5000` runs that many per test.
"""

from __future__ import annotations

import os
import re
import subprocess
from typing import Any

import pytest
from fuzz_support import (
    LONG_RUN,
    count,
    deep,
    error_maps,
    fuzz,
    notifications,
    objects,
    odd,
    oversized,
    pack,
    requests,
    responses,
    shapes,
    truncated,
)
from hypothesis import example, given, note
from hypothesis import strategies as st

from burrow.rpc.codec import FrameDecoder, Notification, Request, Response
from burrow.rpc.errors import ErrorCode
from support import TEST_CHILD_ARGS, RawChild

pytestmark = [pytest.mark.timeout(0)] if LONG_RUN else []

BOUND = 20.0  # seconds from the last byte to the child's exit, on a loaded machine
CHILD_LIMIT = 64 * 1024  # the message-size limit most inputs' hello sets in the child
OWN_NOTE = re.compile(r"burrow\.child\[\d+\]: \S")
CODES = {str(code) for code in ErrorCode}

# Test-binding commands that end by themselves; "call" and "calls" wait for robot-call answers.
COMMANDS = [
    ["echo"],
    ["ret", "0"],
    ["ret", "7"],
    ["raise"],
    ["call", "Say", "x"],
    ["calls", "2"],
    ["big", "100"],
    ["big", str(CHILD_LIMIT)],
    ["cwd"],
    ["nope"],
    [],
]
run_maps = st.fixed_dictionaries(
    {"args": st.one_of(st.sampled_from(COMMANDS), st.lists(objects, max_size=3), objects)},
    optional={"name": objects, "kind": objects, "bot": objects, "workdir": objects},
)


def livable(limit: Any) -> bool:
    """Not a limit the child can set but not live under (1 byte of memory): that one is the
    parent's choice, and a child that dies of it is reported as `child_exit`."""
    return not isinstance(limit, int) or isinstance(limit, bool) or not 0 < limit < 2**30


def hello_maps(versions: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """`$/hello` params with `versions` and any of the optional fields, odd values included."""
    return st.fixed_dictionaries(
        {"versions": versions},
        optional={
            "max_message_size": st.one_of(
                st.sampled_from([1, 16, CHILD_LIMIT, 2**31, 2**63 - 1, 2**63, 2**64 - 1]),
                objects,
            ),
            "limits": st.one_of(
                st.fixed_dictionaries(
                    {},
                    optional={
                        name: st.one_of(
                            st.sampled_from([2**30, 2**62, 2**63 - 1, 2**63, 2**64 - 1, -1, 0]),
                            objects.filter(livable),
                        )
                        for name in ("memory_bytes", "cpu_seconds", "open_files", "processes")
                    },
                ),
                objects,
            ),
            "trace": objects,
        },
    )


hellos = hello_maps(st.one_of(st.just([1]), st.lists(objects, max_size=3), objects)).map(
    lambda params: pack([0, 0, "$/hello", [params]])
)
GOOD_HELLO = pack([0, 0, "$/hello", [{"versions": [1], "max_message_size": CHILD_LIMIT}]])
robot_answers = st.one_of(st.fixed_dictionaries({"ret_val": st.integers(0, 7)}), objects)

frames = st.one_of(
    requests(["$/hello"], hello_maps(st.one_of(st.just([1]), objects))),
    requests(["test_run", "test_get_config", "lua_run", "$/shutdown", "$/frob"], run_maps),
    responses(robot_answers),
    notifications(["$/cancel", "$/log"], st.fixed_dictionaries({"msgid": st.integers(0, 3)})),
    st.tuples(st.integers(0, 3), st.one_of(st.none(), error_maps)).map(
        lambda t: pack([1, t[0], t[1], None if t[1] else {"ret_val": 0}])
    ),
    shapes(),
    objects.map(pack),
    st.binary(max_size=64),
)
hostile = st.one_of(deep(), deep(), oversized(CHILD_LIMIT), odd, truncated(frames))


# A correct start that leaves the child in each phase: before hello, after it, and inside an
# execution waiting for the answers to its robot calls.
PHASES = [
    [],
    [GOOD_HELLO],
    [GOOD_HELLO, pack([0, 1, "test_run", [{"args": ["calls", "2"]}]])],
]


@st.composite
def inputs(
    draw: st.DrawFn, frames: st.SearchStrategy[bytes], min_size: int = 0, max_size: int = 8
) -> list[bytes]:
    """What a fake parent writes: a correct start into some phase, then fuzzed frames."""
    start = draw(st.one_of(st.sampled_from(PHASES), hellos.map(lambda hello: [hello])))
    return start + draw(st.lists(frames, min_size=min_size, max_size=max_size))


def check_child_survives(chunks: list[bytes]) -> dict[str, Any]:
    """Feed `chunks` to a real child, then EOF; check every property in the module docstring."""
    count("parent → child", len(chunks), sum(map(len, chunks)))
    child = RawChild(*TEST_CHILD_ARGS)
    try:
        try:
            out, err = child.proc.communicate(b"".join(chunks), timeout=BOUND)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the child still ran {BOUND:g} s after EOF") from None
        status = child.proc.returncode
    finally:
        child.kill()
    stderr = err.decode("utf-8", "replace")
    note(f"status {status}, stderr {stderr!r:.2000}")
    assert status in (0, 2), f"exit status {status}"
    assert "Traceback" not in stderr
    assert all(OWN_NOTE.match(line) for line in stderr.splitlines()), stderr
    messages = FrameDecoder(1 << 30).feed(out)  # raises on any malformed output
    for message in messages:
        if isinstance(message, Response) and message.error is not None:
            assert isinstance(message.error, dict), message
            assert message.error.get("code") in CODES, message
            message_text = message.error.get("message")
            assert isinstance(message_text, str) and message_text.strip(), message
        elif isinstance(message, Request):
            assert message.method == "robot_call", message
        elif isinstance(message, Notification):
            assert message.method == "$/log", message
    try:
        os.killpg(child.proc.pid, 0)
    except ProcessLookupError:
        pass
    else:
        raise AssertionError("the child's process group outlived it")
    return {"status": status, "frames_out": len(messages)}


@fuzz(100)
@given(chunks=inputs(frames))
def test_fuzzed_frames_from_a_parent_never_break_the_child(chunks: list[bytes]) -> None:
    check_child_survives(chunks)


@fuzz(100)
@given(chunks=inputs(hostile, min_size=1, max_size=3))
@example(chunks=[b"\x94\x00\x00\xa7$/hello\x91\x81\xa8versions" + b"\x91" * 1000 + b"\xc0"])
def test_hostile_frames_from_a_parent_never_break_the_child(chunks: list[bytes]) -> None:
    check_child_survives(chunks)


@fuzz(100)
@given(
    hello=hello_maps(st.just([1])),
    then=st.sampled_from([[], [pack([0, 1, "test_run", [{"args": ["echo"]}]])]]),
)
@example(hello={"versions": [1], "limits": {"memory_bytes": 2**63}}, then=[])
@example(hello={"versions": [1], "limits": {"cpu_seconds": 2**62}}, then=[])
@example(hello={"versions": [1], "max_message_size": 2**64 - 1}, then=[])
def test_a_fuzzed_hello_never_breaks_the_child(hello: dict[str, Any], then: list[bytes]) -> None:
    """Every optional field of an otherwise good hello: answered, refused or ignored; no crash."""
    check_child_survives([pack([0, 0, "$/hello", [hello]]), *then])
