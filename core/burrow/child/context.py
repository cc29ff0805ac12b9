"""The object a binding's method receives: Robot API calls, logging and cancellation."""

from __future__ import annotations

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

        BlockingSession.hand_over's map (the protocol descriptors, made inheritable, what was
        read and not yet handled, the limit and the next msgid) with this execution's `msgid`
        and `method`. The caller must exec at once: if the reader thread runs, a `$/cancel`
        it reads in the instant before the exec is lost. The robot always follows `$/cancel`
        with the end of the stream, so the program must take that end for a cancel. Raises
        Canceled if the execution was cancelled or the stream has ended (the robot is
        stopping us).
        """
        from burrow.rpc.errors import ConnectionClosed

        if self.canceled:
            raise Canceled()
        try:
            state = self._session.hand_over(lambda: self.canceled)
        except ConnectionClosed:
            raise Canceled() from None
        state["msgid"] = self.msgid
        state["method"] = self.method
        return state

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
