"""Strategies for protocol fuzzing: raw bytes, msgpack of any shape, and frames that are nearly
right (the right kinds and methods, with wrong types, unknown msgids and odd sizes).

Example counts: `BURROW_FUZZ_EXAMPLES` (per test) overrides the bounded CI default, e.g.
`BURROW_FUZZ_EXAMPLES=20000 .venv/bin/python -m pytest tests/fuzz` (docs/protocol.md,
*Robustness*).
"""

from __future__ import annotations

import os
from typing import Any

import msgpack
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from burrow.rpc.errors import ErrorCode

# Examples per test: bounded in CI (the whole folder runs in about half a minute), or as many
# as BURROW_FUZZ_EXAMPLES says.
settings.register_profile(
    "burrow-fuzz",
    parent=settings.get_profile("burrow"),
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# A long run takes longer than the suite's 120 s per test; each example still has its own bound.
LONG_RUN = "BURROW_FUZZ_EXAMPLES" in os.environ


def fuzz(ci_examples: int) -> settings:
    """The fuzz profile with `ci_examples` examples, unless BURROW_FUZZ_EXAMPLES overrides."""
    examples = int(os.environ.get("BURROW_FUZZ_EXAMPLES", ci_examples))
    return settings(settings.get_profile("burrow-fuzz"), max_examples=examples)


# What the fuzz tests of this process sent, for the summary line tests/fuzz/conftest.py prints.
SENT: dict[str, int] = {}


def count(direction: str, frames: int, size: int) -> None:
    """Add one example's `frames` and `size` bytes to the totals of `direction`."""
    for key, value in (("examples", 1), ("frames", frames), ("bytes", size)):
        SENT[f"{direction} {key}"] = SENT.get(f"{direction} {key}", 0) + value


def pack(obj: Any) -> bytes:
    data: bytes = msgpack.packb(obj, use_bin_type=True)
    return data


# -- any msgpack value -----------------------------------------------------------------------

keys = st.one_of(
    st.text(max_size=8),
    st.integers(-(2**63), 2**64 - 1),
    st.none(),
    st.booleans(),
    st.binary(max_size=4),
)
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(),
    st.text(max_size=24),
    st.binary(max_size=24),
    st.builds(msgpack.ExtType, st.integers(0, 127), st.binary(max_size=8)),
)
objects = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=4)
    ),
    max_leaves=10,
)

# -- frames that are nearly right --------------------------------------------------------------

ROBOT_METHODS = ["Say", "Reply", "Log", "GetParameter", "CheckoutDatum", "AddTask", "Elevate"]
msgids = st.one_of(
    st.sampled_from([0, 1, 2, 3, 2**32 - 1, 2**32, -1]),
    st.integers(-(2**63), 2**64 - 1),
    objects,
)
error_maps = st.fixed_dictionaries(
    {},
    optional={
        "code": st.one_of(st.sampled_from([*map(str, ErrorCode), "", "made_up"]), objects),
        "message": st.one_of(st.text(max_size=30), objects),
        "data": objects,
    },
)
robot_call_maps = st.fixed_dictionaries(
    {},
    optional={
        "method": st.one_of(st.sampled_from(ROBOT_METHODS), objects),
        "args": st.one_of(st.lists(objects, max_size=3), objects),
        "options": st.one_of(
            st.fixed_dictionaries(
                {}, optional={"direct": objects, "threaded": objects, "format": objects}
            ),
            objects,
        ),
    },
)
log_maps = st.fixed_dictionaries(
    {},
    optional={
        "level": st.one_of(st.integers(-3, 9), objects),
        "message": st.one_of(st.text(max_size=40), objects),
    },
)


def one_map(maps: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Burrow's params `[ {...} ]`, or something else in their place."""
    return st.one_of(st.lists(maps, min_size=1, max_size=1), st.lists(objects, max_size=3), objects)


def requests(methods: list[str], params: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    """`[0, msgid, method, params]` with plausible or wrong parts."""
    return st.tuples(
        st.just(0), msgids, st.one_of(st.sampled_from(methods), objects), one_map(params)
    ).map(lambda t: pack(list(t)))


def responses(results: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    """`[1, msgid, error, result]`: success, error, both or neither."""
    return st.tuples(
        st.just(1),
        msgids,
        st.one_of(st.none(), error_maps, objects),
        st.one_of(st.none(), results, objects),
    ).map(lambda t: pack(list(t)))


def notifications(methods: list[str], params: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    """`[2, method, params]`."""
    return st.tuples(st.just(2), st.one_of(st.sampled_from(methods), objects), one_map(params)).map(
        lambda t: pack(list(t))
    )


def shapes() -> st.SearchStrategy[bytes]:
    """Arrays that are not quite messages: wrong lengths, wrong kinds, wrong types."""
    return st.lists(objects, max_size=5).map(pack) | st.tuples(
        st.integers(-1, 4), objects, objects, objects
    ).map(lambda t: pack(list(t)))


# -- frames no encoder would write --------------------------------------------------------------

# Where a deeply nested value goes: the bytes before it and after it make one whole message.
DEEP_PLACES = [
    (b"", b""),  # the message itself
    (b"\x94\x00", b"\xa1m\x90"),  # a request's msgid
    (b"\x94\x00\x00", b"\x90"),  # a request's method
    (b"\x94\x00\x05\xaarobot_call\x91", b""),  # robot_call params
    (b"\x94\x00\x00\xa7$/hello\x91\x81\xa8versions", b""),  # the versions of a hello
    (b"\x94\x00\x01\xa8test_run\x91\x81\xa4args", b""),  # an execution's args
    (b"\x94\x01\x00\xc0", b""),  # the result of a response to msgid 0
    (b"\x94\x01\x01\xc0", b""),  # the result of a response to msgid 1
    (b"\x94\x01\x00", b"\xc0"),  # the error of a response to msgid 0
    (b"\x94\x01\x01\x81\xa7message", b"\xc0"),  # an error's message
    (b"\x93\x02\xa5$/log\x91\x82\xa5level\x02\xa7message", b""),  # a log message
    (b"\x93\x02\xa8$/cancel\x91\x81\xa5msgid", b""),  # the msgid of a $/cancel
]


@st.composite
def deep(draw: st.DrawFn) -> bytes:
    """Nesting around Python's recursion limit (1000) and msgpack's depth limit (1024), in
    every part of a message."""
    depth = draw(st.one_of(st.integers(980, 1024), st.sampled_from([1, 500, 1025, 5000])))
    before, after = draw(st.sampled_from(DEEP_PLACES))
    return before + b"\x91" * depth + b"\xc0" + after


def oversized(limit: int) -> st.SearchStrategy[bytes]:
    """Frames over the size limit, whole or announced by a huge header."""
    return st.one_of(
        st.integers(1, 64).map(
            lambda extra: pack([2, "$/log", [{"message": "x" * (limit + extra)}]])
        ),
        st.sampled_from(
            [
                b"\xdb\xff\xff\xff\xff" + b"x" * 100,  # str32 of 4 GiB
                b"\xc6\x7f\xff\xff\xff" + b"x" * 100,  # bin32 of 2 GiB
                b"\xdd\xff\xff\xff\xff\xc0",  # array32 of 4 G elements
                b"\xdf\xff\xff\xff\xff\xc0\xc0",  # map32 of 4 G pairs
                b"\x94\x01\x01\xc0\xdd\x00\xff\xff\xff" + b"\xc0" * 10,  # 16 M elements announced
            ]
        ),
    )


odd = st.sampled_from(
    [
        b"\xc1",  # the one byte msgpack never uses
        b"\x81\x91\x00\x00",  # a map whose key is an array (unhashable)
        b"\x81\x80\x00",  # a map whose key is a map
        b"\xa2\xff\xfe",  # a str that is not UTF-8
        b"\x94\x00\x00\xa2\xed\xa0\x90",  # a surrogate encoded as UTF-8 in a method name
        b"\xd4\x05\x00",  # an ext type as a whole message
        b"\xd5\xff\x00\x00",  # a timestamp ext of the wrong length
        b"\x94\x00\x00\xc4\x03abc\x90",  # a method as bin, not str
        b"\x94\x00\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00\xa1m\x90",  # a NaN msgid
        b"\x94\x00\xc3\xa1m\x90",  # a bool msgid
    ]
)


def truncated(frames: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    """The first bytes of a frame, the rest never sent."""
    return st.tuples(frames, st.floats(0, 1)).map(lambda t: t[0][: int(len(t[0]) * t[1])])
