"""The frame codec: shapes, streaming, and the message-size limit."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from burrow.rpc import codec
from burrow.rpc.codec import FrameDecoder, Notification, Request, Response, encode
from burrow.rpc.errors import ProtocolError

json_like = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text() | st.binary(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
messages = st.one_of(
    st.builds(
        Request, st.integers(0, 2**32 - 1), st.text(min_size=1), st.lists(json_like, max_size=3)
    ),
    st.builds(Response, st.integers(0, 2**32 - 1), st.none(), json_like),
    st.builds(Notification, st.text(min_size=1), st.lists(json_like, max_size=3)),
)


@given(st.lists(messages, min_size=1, max_size=5), st.integers(1, 7))
def test_any_split_of_a_stream_decodes_to_the_same_messages(sent: list, chunk: int) -> None:
    stream = b"".join(encode(m) for m in sent)
    decoder = FrameDecoder()
    received = []
    for start in range(0, len(stream), chunk):
        received.extend(decoder.feed(stream[start : start + chunk]))
    assert received == sent


def test_request_is_the_msgpack_rpc_array() -> None:
    assert msgpack.unpackb(encode(Request(7, "$/hello", [{"versions": [1]}]))) == [
        0,
        7,
        "$/hello",
        [{"versions": [1]}],
    ]


def test_binary_stays_binary_and_text_stays_text() -> None:
    [message] = FrameDecoder().feed(encode(Notification("n", [b"\x00\xff", "é"])))
    assert message.params == [b"\x00\xff", "é"]


def test_ten_mebibyte_message_arrives_whole_across_many_reads() -> None:
    big = "x" * (10 * 1024 * 1024)
    data = encode(Response(1, None, {"blob": big}))
    decoder = FrameDecoder()
    out = []
    for start in range(0, len(data), 65536):
        out.extend(decoder.feed(data[start : start + 65536]))
    assert len(out) == 1 and out[0].result["blob"] == big


def test_message_over_the_limit_is_refused_on_encode() -> None:
    with pytest.raises(ProtocolError, match="exceeds the limit of 1000 bytes"):
        encode(Notification("n", ["x" * 2000]), max_size=1000)


def test_message_over_the_limit_is_refused_while_decoding() -> None:
    decoder = FrameDecoder(max_size=1000)
    data = encode(Notification("n", ["x" * 5000]))
    with pytest.raises(ProtocolError, match="exceeds the limit"):
        for start in range(0, len(data), 100):
            decoder.feed(data[start : start + 100])


def test_message_just_under_the_limit_passes_beside_its_neighbours() -> None:
    limit = 70_000  # larger than one feed slice, so a frame straddles two reads
    first = encode(Notification("n", ["a" * (limit - 20)]))
    assert len(first) <= limit
    second = encode(Notification("m", ["b"]))
    out = FrameDecoder(max_size=limit).feed(first + second)
    assert [m.method for m in out] == ["n", "m"]


@pytest.mark.parametrize(
    "obj",
    [
        pytest.param({"not": "an array"}, id="map"),
        pytest.param([], id="empty-array"),
        pytest.param([3, 1, "m", []], id="unknown-kind"),
        pytest.param([0, -1, "m", []], id="negative-msgid"),
        pytest.param([0, 2**32, "m", []], id="msgid-over-32-bits"),
        pytest.param([0, 1, "", []], id="empty-method"),
        pytest.param([0, 1, "m", {"a": 1}], id="params-not-array"),
        pytest.param([2, "m"], id="short-notification"),
    ],
)
def test_malformed_message_is_a_protocol_error(obj: object) -> None:
    with pytest.raises(ProtocolError):
        FrameDecoder().feed(msgpack.packb(obj))


def test_undecodable_bytes_are_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="undecodable"):
        FrameDecoder().feed(b"\xc1garbage")


def test_invalid_utf8_string_is_a_protocol_error() -> None:
    raw = msgpack.packb([2, "m", ["x"]])
    with pytest.raises(ProtocolError):
        FrameDecoder().feed(raw.replace(b"\xa1x", b"\xa1\xff"))


def test_a_message_that_cannot_be_encoded_leaves_nothing_behind_for_the_next() -> None:
    # Encoders are reused between messages: a failure half-way through one must not leak its
    # bytes into the next message written.
    with pytest.raises(ProtocolError, match="cannot encode message"):
        encode(Request(1, "robot_call", [{"fine": "x" * 100, "bad": object()}]))
    assert encode(Request(2, "m", [1])) == msgpack.packb([0, 2, "m", [1]], use_bin_type=True)


def test_threads_encoding_at_once_each_get_their_own_message() -> None:
    def worker(n: int) -> list[bool]:
        return [
            FrameDecoder().feed(encode(Notification("$/log", [n, i, "x" * (n * 50)])))
            == [Notification("$/log", [n, i, "x" * (n * 50)])]
            for i in range(500)
        ]

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(worker, range(8)))
    assert all(all(ok) for ok in results)


def test_a_decoder_made_ahead_is_taken_once_and_only_for_its_limit() -> None:
    codec.make_decoder_ahead(4096)
    first = codec.new_decoder(4096)
    assert codec.new_decoder(4096) is not first  # taken: the next one is new
    codec.make_decoder_ahead(4096)
    other = codec.new_decoder(8192)
    assert other.max_size == 8192
    taken = codec.new_decoder(4096)
    assert taken.max_size == 4096
    # What one decoder read never reaches another: each starts empty.
    assert taken.feed(codec.encode(Notification("n", []))) == [Notification("n", [])]
