"""Frame codec: msgpack-RPC messages to bytes and back, with the message-size limit.

msgpack is self-delimiting, so frames have no length prefix; the decoder is a streaming
unpacker fed with whatever one `os.read` returned, and never assumes one read is one message.
"""

from __future__ import annotations

import sys

import msgpack

from burrow.rpc.errors import ProtocolError, describe_exception, shown

# The child imports this module on every start, so it avoids `typing` and `dataclasses`
# (together several milliseconds); mypy honours a local TYPE_CHECKING constant.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TypeAlias

DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024 * 1024
MAX_MSGID = 2**32 - 1

REQUEST = 0
RESPONSE = 1
NOTIFICATION = 2


class _Frame:
    """Base of the three message shapes: immutable slots, equality and repr by field."""

    __slots__ = ()

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def _fields(self) -> tuple[object, ...]:
        names: tuple[str, ...] = self.__slots__
        return tuple(getattr(self, name) for name in names)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, _Frame)
            and type(other) is type(self)
            and self._fields() == other._fields()
        )

    def __hash__(self) -> int:
        return hash((type(self).__name__, repr(self._fields())))

    def __repr__(self) -> str:
        names: tuple[str, ...] = self.__slots__
        fields = ", ".join(f"{n}={getattr(self, n)!r}" for n in names)
        return f"{type(self).__name__}({fields})"


class Request(_Frame):
    """`[0, msgid, method, params]`."""

    __slots__ = ("method", "msgid", "params")
    msgid: int
    method: str
    params: list[Any]

    def __init__(self, msgid: int, method: str, params: list[Any]) -> None:
        object.__setattr__(self, "msgid", msgid)
        object.__setattr__(self, "method", method)
        object.__setattr__(self, "params", params)


class Response(_Frame):
    """`[1, msgid, error, result]`; `error` is None on success."""

    __slots__ = ("error", "msgid", "result")
    msgid: int
    error: Any
    result: Any

    def __init__(self, msgid: int, error: Any, result: Any) -> None:
        object.__setattr__(self, "msgid", msgid)
        object.__setattr__(self, "error", error)
        object.__setattr__(self, "result", result)


class Notification(_Frame):
    """`[2, method, params]`."""

    __slots__ = ("method", "params")
    method: str
    params: list[Any]

    def __init__(self, method: str, params: list[Any]) -> None:
        object.__setattr__(self, "method", method)
        object.__setattr__(self, "params", params)


Message: TypeAlias = "Request | Response | Notification"


# Packers ready for reuse: building one per message costs more than packing a small message.
# A packer is taken from the list while it packs, so no two threads ever share one.
_packers: list[msgpack.Packer] = []


def encode(message: Message, max_size: int = DEFAULT_MAX_MESSAGE_SIZE) -> bytes:
    """Serialise one message, refusing one larger than the limit before it is written."""
    if isinstance(message, Request):
        obj: list[Any] = [REQUEST, message.msgid, message.method, message.params]
    elif isinstance(message, Response):
        obj = [RESPONSE, message.msgid, message.error, message.result]
    else:
        obj = [NOTIFICATION, message.method, message.params]
    packer = _packers.pop() if _packers else msgpack.Packer(use_bin_type=True, datetime=False)
    try:
        data: bytes = packer.pack(obj)  # a failed pack leaves the packer empty, reusable
    except (TypeError, ValueError, OverflowError) as exc:
        raise ProtocolError(f"cannot encode message: {describe_exception(exc)}") from exc
    finally:
        _packers.append(packer)
    if len(data) > max_size:
        raise ProtocolError(
            f"message of {len(data)} bytes exceeds the limit of {max_size} bytes",
            {"size": len(data), "limit": max_size},
        )
    return data


def _parse(obj: Any) -> Message:
    """Check one decoded object against the three message shapes."""
    if not isinstance(obj, list) or not obj:
        raise ProtocolError(f"a message must be a non-empty array, got {type(obj).__name__}")
    kind = obj[0]
    if kind == REQUEST and len(obj) == 4:
        _, msgid, method, params = obj
        _check_msgid(msgid)
        _check_method(method)
        _check_params(params)
        return Request(msgid, method, params)
    if kind == RESPONSE and len(obj) == 4:
        _, msgid, error, result = obj
        _check_msgid(msgid)
        return Response(msgid, error, result)
    if kind == NOTIFICATION and len(obj) == 3:
        _, method, params = obj
        _check_method(method)
        _check_params(params)
        return Notification(method, params)
    raise ProtocolError(f"not a request, response or notification: {shown(obj)}")


def _check_msgid(msgid: Any) -> None:
    if not isinstance(msgid, int) or isinstance(msgid, bool) or not 0 <= msgid <= MAX_MSGID:
        raise ProtocolError(f"msgid must be an unsigned 32-bit integer, got {shown(msgid, 50)}")


def _check_method(method: Any) -> None:
    if not isinstance(method, str) or not method:
        raise ProtocolError(f"method must be a non-empty string, got {shown(method, 50)}")


def _check_params(params: Any) -> None:
    if not isinstance(params, list):
        raise ProtocolError(f"params must be an array, got {type(params).__name__}")


_FEED_SLICE = 64 * 1024
_MAX_BUFFER = sys.maxsize  # the unpacker's limit is a C ssize_t


class FrameDecoder:
    """Streaming decoder: feed it bytes as they arrive, get whole messages out."""

    def __init__(self, max_size: int = DEFAULT_MAX_MESSAGE_SIZE) -> None:
        self.max_size = max_size
        # The buffer may hold one frame still being assembled plus one feed slice, so an
        # oversized frame fails as soon as it crosses the limit instead of after it was read
        # whole; the exact size of each complete frame is checked with tell() below.
        self._unpacker = msgpack.Unpacker(
            raw=False,
            # A limit beyond what the unpacker can represent (a peer's hello may ask for 2**64)
            # means no limit of ours: the platform's size limit applies.
            max_buffer_size=min(max_size + _FEED_SLICE, _MAX_BUFFER),
            strict_map_key=False,
            timestamp=0,
            # The first buffer, grown as frames need: the default (1 MiB) was a large block
            # allocated and freed for every child the robot talks to.
            read_size=_FEED_SLICE,
        )
        self._offset = 0

    def feed(self, data: bytes) -> list[Message]:
        """Add bytes and return every message they complete, in order."""
        messages: list[Message] = []
        if len(data) <= _FEED_SLICE:  # one read of the usual size: no slicing
            try:
                self._unpacker.feed(data)
            except msgpack.BufferFull as exc:
                raise self._too_large() from exc
            self._drain(messages)
            return messages
        view = memoryview(data)
        for start in range(0, len(view), _FEED_SLICE):
            try:
                self._unpacker.feed(view[start : start + _FEED_SLICE])
            except msgpack.BufferFull as exc:
                raise self._too_large() from exc
            self._drain(messages)
        return messages

    def undecoded(self) -> bytes | None:
        """The bytes fed and not yet returned as messages; None while one is half decoded."""
        try:
            rest: bytes = self._unpacker.read_bytes(_MAX_BUFFER)
        except ValueError:  # the unpacker is inside a message
            return None
        return rest

    def _too_large(self, size: int | None = None) -> ProtocolError:
        shown = f" of {size} bytes" if size is not None else ""
        return ProtocolError(
            f"message{shown} exceeds the limit of {self.max_size} bytes",
            {"limit": self.max_size, "size": size},
        )

    def _drain(self, out: list[Message]) -> None:
        unpacker = self._unpacker
        try:
            for obj in unpacker:  # ends when the buffer holds no whole object
                end = unpacker.tell()
                size, self._offset = end - self._offset, end
                if size > self.max_size:
                    raise self._too_large(size)
                out.append(_parse(obj))
        except ProtocolError:
            raise
        except Exception as exc:  # msgpack raises several types for corrupt input
            raise ProtocolError(f"undecodable frame: {describe_exception(exc)}") from exc


# Decoders made ahead of time by `make_decoder_ahead`, by message-size limit.
_made_ahead: dict[int, FrameDecoder] = {}


def make_decoder_ahead(max_size: int = DEFAULT_MAX_MESSAGE_SIZE) -> None:
    """In the zygote: make the decoder that each fork's session will take (`new_decoder`).

    A fork inherits it unused. Made in the fork instead, the unpacker (a 32 KiB object,
    zeroed whole) and its buffer cost each child about 17 copied pages.
    """
    _made_ahead[max_size] = FrameDecoder(max_size)


def new_decoder(max_size: int = DEFAULT_MAX_MESSAGE_SIZE) -> FrameDecoder:
    """A fresh decoder for `max_size`: the one made ahead for it (only once), or a new one."""
    made = _made_ahead.pop(max_size, None)
    return made if made is not None else FrameDecoder(max_size)
