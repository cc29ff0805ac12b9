"""The parent's session: fed bytes by an asyncio transport, futures for its own requests."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
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


class AsyncSession:
    """The parent's session: fed bytes by a transport, futures for its own requests."""

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
        self._requests: asyncio.Queue[Request] = asyncio.Queue()
        self._server = asyncio.get_running_loop().create_task(self._serve())
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
            self._requests.put_nowait(message)
        else:
            self._on_notification(message)

    async def _serve(self) -> None:
        # One request at a time, in arrival order: robot calls from one child are serialized.
        while True:
            request = await self._requests.get()
            try:
                response = Response(request.msgid, None, await self._on_request(request))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure becomes an error response
                response = error_response(request.msgid, exc)
            if self.closed is None:
                try:
                    self.send(response)
                except ProtocolError as exc:  # e.g. a result over the size limit
                    self.send(error_response(request.msgid, exc))

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
        self._server.cancel()
