"""The object a binding's method receives: Robot API calls, logging and cancellation."""

from __future__ import annotations

import os

from burrow.rpc.errors import ErrorCode, RpcError, shown

TYPE_CHECKING = False  # see burrow.rpc.codec: the child avoids importing typing
if TYPE_CHECKING:
    from typing import Any

    from burrow.rpc.child_session import BlockingSession
    from burrow.rpc.codec import Notification, Request


class Canceled(RpcError):
    """The parent cancelled this execution (`$/cancel`)."""

    def __init__(self, message: str = "the execution was cancelled by the robot") -> None:
        super().__init__(ErrorCode.CANCELED, message)


class ExecutionContext:
    """What a binding method gets besides its params: the way back to the robot."""

    def __init__(self, session: BlockingSession, msgid: int, method: str) -> None:
        self._session = session
        self.msgid = msgid
        self.method = method
        self.canceled = False
        # True while control is in binding or extension code (not waiting on the parent), so
        # a $/cancel may interrupt it with an exception.
        self.interruptible = False

    def robot_call(
        self, method: str, args: list[Any] | None = None, options: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Call Robot API `method` in the parent and return its result map.

        Raises RpcError with the parent's code (`method_not_found`, `invalid_params`,
        `invalid_state`, `privilege_violation`, `interrupted`, `robot_call_failed`), or
        Canceled once the parent has cancelled this execution.
        """
        if self.canceled:
            raise Canceled()
        call: dict[str, Any] = {"method": method, "args": list(args or [])}
        if options:
            call["options"] = options
        was_interruptible, self.interruptible = self.interruptible, False
        try:
            result = self._session.request(
                "robot_call", [call], serve=self._refuse, on_notification=self._notified
            )
        finally:
            self.interruptible = was_interruptible
        if not isinstance(result, dict):
            raise RpcError(
                ErrorCode.PROTOCOL_ERROR, f"robot_call {method} answered {shown(result, 80)}"
            )
        return result

    def hand_over(self) -> dict[str, Any]:
        """The session's state, for a binding that replaces this process with a program that
        continues the session itself (exec: the Go binding, docs/go.md).

        `rfd`/`wfd` are the protocol descriptors, made inheritable; `buffered` is what was read
        from the robot and not yet handled (the messages already decoded, encoded again, then
        the undecoded bytes); `next_msgid` numbers the program's first request. The caller
        must exec at once: the reader thread is still running, and a `$/cancel` it reads in
        the instant before the exec is lost. The robot always follows `$/cancel` with the end
        of the stream, so the program must take that end for a cancel. Raises Canceled if
        the execution was cancelled or the stream has ended (the robot is stopping us).
        """
        import time

        from burrow.rpc.codec import encode

        session = self._session
        buffered = bytearray()
        deadline = time.monotonic() + 2.0
        while True:
            if self.canceled or session._ended:
                raise Canceled()
            inbox = session._inbox
            while not inbox.empty():
                item = inbox.get()
                if isinstance(item, BaseException):  # the stream ended meanwhile
                    raise Canceled()
                buffered += encode(item, 1 << 62)
            try:
                buffered += session._decoder._unpacker.read_bytes(1 << 62)
                break
            except ValueError:  # a message is half read: the reader thread completes it
                if time.monotonic() > deadline:
                    raise RpcError(
                        ErrorCode.PROTOCOL_ERROR, "a message from the robot stays incomplete"
                    ) from None
                time.sleep(0.001)
        for fd in (session._rfd, session._wfd):
            os.set_inheritable(fd, True)
        return {
            "rfd": session._rfd,
            "wfd": session._wfd,
            "msgid": self.msgid,
            "method": self.method,
            "max_message_size": session.max_size,
            "next_msgid": session._ids._next,
            "buffered": bytes(buffered),
        }

    def log(self, level: int, message: str) -> None:
        """Send a line to the task log at `level` (0 Trace .. 6 Fatal)."""
        self._session.notify("$/log", [{"level": int(level), "message": str(message)}])

    def _notified(self, notification: Notification) -> None:
        # The reader thread already set `canceled`; end the blocked call now.
        if notification.method == "$/cancel" and self.canceled:
            raise Canceled()

    def _refuse(self, request: Request) -> Any:
        raise RpcError(
            ErrorCode.INVALID_STATE, f"{request.method} cannot be served during an execution"
        )
