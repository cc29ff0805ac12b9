"""The parent's session: fed bytes by an asyncio transport, futures for its own requests."""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any

from burrow.rpc.codec import (
    DEFAULT_MAX_MESSAGE_SIZE,
    FrameDecoder,
    Message,
    Notification,
    Request,
    Response,
    encode,
)
from burrow.rpc.errors import ErrorCode, ProtocolError, RpcError, describe_exception
from burrow.rpc.session import MsgidAllocator, error_response

log = logging.getLogger(__name__)

NotificationHandler = Callable[[Notification], None]

AsyncRequestHandler = Callable[[Request], Awaitable[Any]]


class _Rest:
    """Awaits the rest of a coroutine that was started outside any task and is waiting on
    `waiting` (what it yielded): in a task, it goes on exactly as if the task had started it."""

    __slots__ = ("_coro", "_waiting")

    def __init__(self, coro: Coroutine[Any, Any, Any], waiting: Any) -> None:
        self._coro = coro
        self._waiting = waiting

    def __await__(self) -> Generator[Any, None, Any]:
        coro, waiting = self._coro, self._waiting
        while True:
            try:
                yield waiting  # the task waits on it, as it would for the coroutine itself
            except BaseException as exc:  # noqa: BLE001 - thrown into the task: pass it on
                try:
                    waiting = coro.throw(exc)
                except StopIteration as done:
                    return done.value
            else:
                try:
                    waiting = coro.send(None)
                except StopIteration as done:
                    return done.value


class AsyncSession:
    """The parent's session: fed bytes by a transport, futures for its own requests.

    Requests from the child are served one at a time, in arrival order. Each is started at
    once, in the call that fed it: most robot calls are answered without waiting for anything,
    and then go back to the child without a turn of the event loop in between. One that has to
    wait (a reply from a user, a brain write) goes on in a task, and the requests that arrive
    meanwhile wait their turn behind it.
    """

    def __init__(
        self,
        write: Callable[[bytes], None],
        *,
        on_request: AsyncRequestHandler,
        on_notification: NotificationHandler,
        max_size: int = DEFAULT_MAX_MESSAGE_SIZE,
    ) -> None:
        self._write = write
        self._on_request = on_request
        self._on_notification = on_notification
        self.max_size = max_size
        self._decoder = FrameDecoder(max_size)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._ids = MsgidAllocator()
        self._requests: collections.deque[Request] = collections.deque()  # behind the served one
        self._serving = False  # a request is being served
        self._server: asyncio.Task[None] | None = None  # serving one that had to wait
        self.closed: BaseException | None = None

    def feed(self, data: bytes) -> None:
        """Take bytes from the transport and dispatch every message they complete.

        Nothing raised here may escape: this runs in the transport's callback, where an
        exception would only be logged by the event loop while the session lived on with the
        rest of the read dropped. Any failure closes the session with a typed error instead.
        """
        if self.closed is not None:
            return
        try:
            for message in self._decoder.feed(data):
                self._dispatch(message)
        except ProtocolError as exc:
            self.close(exc)
        except Exception as exc:  # a handler bug fails this session only, logged
            log.exception("serving a message from the child failed")
            self.close(RpcError(ErrorCode.INTERNAL_ERROR, describe_exception(exc)))

    def _dispatch(self, message: Message) -> None:
        if isinstance(message, Response):
            future = self._pending.pop(message.msgid, None)
            if future is None:
                raise ProtocolError(f"response to unknown msgid {message.msgid}")
            if future.done():
                return
            if message.error is not None:
                future.set_exception(RpcError.from_map(message.error))
            else:
                future.set_result(message.result)
        elif isinstance(message, Request):
            if self._serving:
                self._requests.append(message)
            else:
                self._start(message)
        else:
            self._on_notification(message)

    def _start(self, request: Request) -> None:
        """Serve `request` now, as far as it goes without waiting; if it must wait, go on in
        a task, which then serves the requests queued behind it."""
        self._serving = True
        answering = self._answer(request)
        try:
            waiting = answering.send(None)
        except StopIteration as done:
            self._serving = False
            self._respond(done.value)
            return
        except BaseException:
            self._serving = False
            raise
        self._server = asyncio.get_running_loop().create_task(self._go_on(answering, waiting))

    async def _go_on(self, answering: Coroutine[Any, Any, Response], waiting: Any) -> None:
        try:
            self._respond(await _Rest(answering, waiting))
            while self._requests and self.closed is None:
                self._respond(await self._answer(self._requests.popleft()))
        finally:
            self._serving = False
            self._server = None

    async def _answer(self, request: Request) -> Response:
        try:
            return Response(request.msgid, None, await self._on_request(request))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure becomes an error response
            return error_response(request.msgid, exc)

    def _respond(self, response: Response) -> None:
        if self.closed is not None:
            return
        try:
            try:
                self.send(response)
            except ProtocolError as exc:  # e.g. a result over the size limit
                self.send(error_response(response.msgid, exc))
        except RpcError as exc:
            # The child's stdin is closed (it is being stopped, or has answered): the answer
            # cannot reach it, and what it still sends is read as before.
            log.debug("answer %d not sent: %s", response.msgid, exc.message)

    def send(self, message: Message) -> None:
        """Write one whole message; an oversized one raises ProtocolError before writing."""
        self._write(encode(message, self.max_size))

    def start_request(self, method: str, params: list[Any]) -> tuple[int, asyncio.Future[Any]]:
        """Send a request; return its msgid and the future of its result."""
        if self.closed is not None:
            raise self.closed
        msgid = self._ids.allocate(self._pending)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[msgid] = future
        try:
            self.send(Request(msgid, method, params))
        except BaseException:
            self._pending.pop(msgid, None)
            raise
        return msgid, future

    async def request(self, method: str, params: list[Any]) -> Any:
        """Send a request and wait for its result."""
        _, future = self.start_request(method, params)
        return await future

    def notify(self, method: str, params: list[Any]) -> None:
        """Send a notification."""
        self.send(Notification(method, params))

    def close(self, reason: BaseException) -> None:
        """End the session: fail every pending request with `reason`, stop serving."""
        if self.closed is not None:
            return
        self.closed = reason
        for future in self._pending.values():
            if not future.done():
                future.set_exception(reason)
        self._pending.clear()
        self._requests.clear()
        if self._server is not None:
            self._server.cancel()
