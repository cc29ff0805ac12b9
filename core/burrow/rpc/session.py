"""What both session drivers share: msgid allocation and mapping exceptions to responses.

Two drivers use it. `child_session.BlockingSession` is the child's: raw descriptors, a reader
thread and a blocking `request()`, because the extension blocks inside its Robot API call.
`parent_session.AsyncSession` is the parent's: it is fed bytes by an asyncio transport, answers
our requests through futures, and serves the child's requests one at a time, in order.
"""

from __future__ import annotations

from burrow.rpc.codec import MAX_MSGID, Response
from burrow.rpc.errors import ErrorCode, RpcError, describe_exception

TYPE_CHECKING = False  # see burrow.rpc.codec: the child avoids importing typing
if TYPE_CHECKING:
    from typing import Any


class MsgidAllocator:
    """Numbers this side's requests: unsigned 32-bit, wrapping, never reusing a pending id."""

    def __init__(self) -> None:
        self._next = 0

    def peek(self) -> int:
        """The msgid `allocate` tries next."""
        return self._next

    def allocate(self, pending: dict[int, Any]) -> int:
        """Return the next free msgid."""
        while True:
            msgid = self._next
            self._next = 0 if msgid == MAX_MSGID else msgid + 1
            if msgid not in pending:
                return msgid


def error_response(msgid: int, exc: BaseException) -> Response:
    """Map an exception raised while serving a request to its error response."""
    if isinstance(exc, RpcError):
        return Response(msgid, exc.to_map(), None)
    return Response(
        msgid,
        RpcError(ErrorCode.INTERNAL_ERROR, describe_exception(exc)).to_map(),
        None,
    )
