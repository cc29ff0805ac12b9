"""Typed protocol errors carrying the error codes of the wire contract (docs/protocol.md)."""

from __future__ import annotations

import enum

TYPE_CHECKING = False  # see burrow.rpc.codec: the child avoids importing typing
if TYPE_CHECKING:
    from typing import Any


class ErrorCode(enum.StrEnum):
    """Every error code of protocol version 1; codes travel as these strings."""

    PROTOCOL_ERROR = "protocol_error"
    UNSUPPORTED_VERSION = "unsupported_version"
    METHOD_NOT_FOUND = "method_not_found"
    INVALID_PARAMS = "invalid_params"
    INVALID_STATE = "invalid_state"
    CANCELED = "canceled"
    TIMEOUT = "timeout"
    CHILD_EXIT = "child_exit"
    CHILD_START = "child_start"
    EXTENSION_ERROR = "extension_error"
    PRIVILEGE_VIOLATION = "privilege_violation"
    INTERRUPTED = "interrupted"
    ROBOT_CALL_FAILED = "robot_call_failed"
    INTERNAL_ERROR = "internal_error"


NO_MESSAGE = "the error carried no message"
"""An RpcError's message when it was built with none: every error says something."""


def describe_exception(exc: BaseException) -> str:
    """`Type: message` for an exception, never blank: `KeyError()` and `AssertionError()` have
    no text, so they show as their type (and their repr when it holds more)."""
    text = str(exc)
    name = type(exc).__name__
    if text.strip():
        return f"{name}: {text}"
    shown = repr(exc)
    return f"{name} (without a message)" if shown == f"{name}()" else f"{shown} (without a message)"


def shown(value: Any, limit: int = 200) -> str:
    """A short repr of what a peer sent, for an error message: bounded in depth and length, so
    a frame nested a thousand deep cannot raise RecursionError where `repr` would."""
    import reprlib  # only on error paths

    return reprlib.repr(value)[:limit]


class RpcError(Exception):
    """An error with a protocol code, a message for people and optional structured data.

    The message is never empty: a blank one (from a peer's error map, or an exception with no
    text) becomes NO_MESSAGE, so no log line or reply ends in a bare "internal_error: ".
    """

    def __init__(self, code: ErrorCode | str, message: str, data: Any = None) -> None:
        if not isinstance(message, str) or not message.strip():
            message = NO_MESSAGE
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def to_map(self) -> dict[str, Any]:
        """Return the wire form `{"code", "message", "data"?}`."""
        error: dict[str, Any] = {"code": str(self.code), "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error

    @classmethod
    def from_map(cls, error: Any) -> RpcError:
        """Build an error from the other side's error map, tolerating malformed maps."""
        if not isinstance(error, dict):
            return cls(ErrorCode.PROTOCOL_ERROR, f"malformed error object: {shown(error)}")
        code = error.get("code")
        message = error.get("message")
        code_text = code if isinstance(code, str) and code else ErrorCode.INTERNAL_ERROR
        try:
            code_text = ErrorCode(code_text)
        except ValueError:
            pass  # an unknown code from a newer peer is kept as its string
        if not isinstance(message, str) or not message.strip():
            message = f"{NO_MESSAGE} (the peer sent {shown(error)})"
        return cls(code_text, message, error.get("data"))


class ProtocolError(RpcError):
    """The peer broke the wire contract: bad frame, bad shape, oversized message."""

    def __init__(self, message: str, data: Any = None) -> None:
        super().__init__(ErrorCode.PROTOCOL_ERROR, message, data)


class ConnectionClosed(Exception):
    """The peer closed its end of the stream (EOF)."""
