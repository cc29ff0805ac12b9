"""The child's session: two raw descriptors, a reader thread and blocking requests."""

from __future__ import annotations

# _signal, not signal: burrow.child.main says why.
import _signal  # type: ignore[import-not-found]
import _thread
import os
import select
import time

# `_queue` and `_thread`, not `queue` and `threading`: importing `threading` registers a
# handler that runs after every fork (os.register_at_fork), and in a child forked from the
# zygote, which imports this module, it wrote to about a hundred pages of the zygote's heap
# (each one copied) before the child ran a line of its own.
from _queue import SimpleQueue

from burrow.rpc.codec import (
    DEFAULT_MAX_MESSAGE_SIZE,
    Message,
    Notification,
    Request,
    Response,
    encode,
    new_decoder,
)
from burrow.rpc.errors import ConnectionClosed, ProtocolError, RpcError, describe_exception
from burrow.rpc.session import MsgidAllocator, error_response

TYPE_CHECKING = False  # see burrow.rpc.codec: the child avoids importing typing
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    RequestHandler = Callable[[Request], Any]
    NotificationHandler = Callable[[Notification], None]

READ_SIZE = 64 * 1024


def write_all(fd: int, data: bytes) -> None:
    """Write every byte, looping over short writes (pipes accept at most their capacity)."""
    written = os.write(fd, data)
    if written == len(data):
        return
    view = memoryview(data)[written:]
    while view:
        written = os.write(fd, view)
        view = view[written:]


# How long the reader thread leaves the stream to the thread it has just handed a response to.
# That thread then reads its next answers itself (one thread hand-off less per robot call); a
# `$/cancel` that arrives meanwhile while the extension computes waits at most this long.
PARK_SECONDS = 0.02
# How long a thread that reads its own answer polls the stream before it sleeps in read. The
# robot answers most calls within it, and a thread that never slept is running when the answer
# comes: on the 2-CPU machines measured, waking a thread on an idle CPU takes about 20 µs, and
# one robot call from JavaScript went from about 120 to 85 µs. It costs at most this much CPU
# per answer waited for, and only for the answers to its own requests (robot calls) while the
# reader thread has stepped aside.
SPIN_SECONDS = 100e-6
# A parent whose last answer took longer than this is busy (a burst of commands keeps it
# answering others first): its next answer will not come within SPIN_SECONDS either, and the
# poll would burn CPU the parent and the other children need. In bursts of 64 commands on 2
# CPUs, the median answer took about 2 ms and fewer than one in ten came within the spin, and
# the spin cost each command about 0.08 ms of CPU; an idle robot answers in tens of µs.
BUSY_SECONDS = 1e-3


class BlockingSession:
    """The child's session over two raw descriptors, with a reader thread feeding an inbox.

    Whoever holds the read lock reads and decodes the stream, and puts every message it
    completes into the inbox (urgent notifications handled first) before letting go of it.
    A thread waiting for a message takes the lock itself when it is free and reads its own
    message. Until `start()` nothing else reads: the child's main thread reads the hello and
    the request itself, with no thread to wake. Once started, the reader thread holds the
    lock while it waits on the stream, so that a `$/cancel` reaches the execution while
    extension code runs; after it has handed a robot call one answer it steps aside for
    `PARK_SECONDS` (`_read_loop`), and the caller reads its next answers itself, which saves
    waking a second thread for every call; it polls for `SPIN_SECONDS` before it sleeps,
    unless the parent's last answer took longer than `BUSY_SECONDS`.
    """

    def __init__(
        self,
        rfd: int,
        wfd: int,
        *,
        max_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        on_urgent: NotificationHandler | None = None,
    ) -> None:
        self._rfd = rfd
        self._wfd = wfd
        self.max_size = max_size
        self._decoder = new_decoder(max_size)
        self._inbox: SimpleQueue[Message | BaseException] = SimpleQueue()
        self._read_lock = _thread.allocate_lock()
        self._poller = select.poll()
        self._poller.register(rfd, select.POLLIN)
        self._ended = False  # the stream ended or broke; the inbox holds why
        self._write_lock = _thread.allocate_lock()
        self._pending: dict[int, None] = {}
        self._ids = MsgidAllocator()
        # Urgent notifications ($/cancel) are handled by the thread that reads them, at once,
        # because the main thread may be busy in extension code and not reading the inbox.
        self._on_urgent = on_urgent
        self._started = False
        self._timer = False  # a `start(after=...)` timer is armed
        self._alarm_handler = False  # our SIGALRM handler is installed
        # When this side last sent (perf_counter; 0: never), and whether the parent answered
        # the last time within BUSY_SECONDS of it: if not, a robot call does not spin.
        self._sent_at = 0.0
        self._parent_quick = True
        self.reader_ident: int | None = None  # the reader thread's, once it runs

    def set_max_size(self, max_size: int) -> None:
        """Change the message-size limit; only between frames (the child does it at hello)."""
        if max_size == self.max_size:
            return  # most hellos: a new decoder would cost a child about 10 copied pages
        self.max_size = max_size
        self._decoder = new_decoder(max_size)

    def start(self, after: float = 0.0) -> None:
        """Start the reader thread (once; later calls do nothing).

        `after` > 0, from the main thread: only once that many seconds have passed (a one-shot
        SIGALRM timer), unless `stop_timer` or `hand_over` comes first. Most executions end
        sooner, and then no thread is ever started: meanwhile a thread that waits for a
        message reads the stream itself, and a message nobody waits for (a `$/cancel`) is read
        when the timer fires.

        The reader is a bare thread (`_thread`): `threading.Thread.start` would also wait for
        it to be running, a round trip through the scheduler that every one-shot child pays at
        its start. It never ends while the process lives, like a daemon thread.
        """
        if self._started or self._timer:
            return
        if after > 0 and self._arm(after):
            return
        self._started = True
        _thread.start_new_thread(self._read_loop, ())

    def _arm(self, after: float) -> bool:
        """Arm the timer that starts the reader; False if this thread cannot (not the main)."""
        if not self._alarm_handler:
            try:
                _signal.signal(_signal.SIGALRM, self._alarm)
            except ValueError:  # only the main thread handles signals
                return False
            # Restart what the signal interrupts where the system can (SA_RESTART): C code of
            # an extension that does not retry after EINTR is not disturbed by it.
            _signal.siginterrupt(_signal.SIGALRM, False)
            # Left installed: one restored to the default while a SIGALRM was still on its
            # way would have Python print "Signal 14 ignored due to race condition".
            self._alarm_handler = True
        self._timer = True
        _signal.setitimer(_signal.ITIMER_REAL, after)
        return True

    def _alarm(self, signum: int, frame: object) -> None:
        if not self._timer:
            return
        self._timer = False
        try:
            self.start()
        except RuntimeError as exc:  # no thread to be had (RLIMIT_NPROC): not the extension's
            # concern; a cancel then ends the execution through the robot's escalation (EOF,
            # SIGTERM, SIGKILL), or at its next robot call.
            os.write(2, f"burrow.child: no thread to watch for $/cancel: {exc}\n".encode())

    def stop_timer(self) -> None:
        """Disarm the timer of `start(after=...)`: the reader thread will not start."""
        if self._timer:
            self._timer = False
            _signal.setitimer(_signal.ITIMER_REAL, 0)

    def _read_loop(self) -> None:
        self.reader_ident = _thread.get_ident()
        try:
            while True:
                with self._read_lock:
                    if self._ended:
                        return
                    answered = self._read_once()
                if answered:
                    # The thread that awaited this response will likely call again at once: it
                    # reads its own answers from now on, while this thread sleeps.
                    time.sleep(PARK_SECONDS)
        except BaseException as exc:  # noqa: BLE001 - the main thread must hear the end
            self._end(ProtocolError(f"reading the stream failed: {describe_exception(exc)}"))

    def _read_once(self) -> bool:
        """Read the stream once, with the read lock held, and put every message that completes
        into the inbox, or the end of the stream. True if one of them was a response."""
        try:
            data = os.read(self._rfd, READ_SIZE)
        except OSError as exc:
            self._end(ConnectionClosed(f"reading the stream failed: {exc}"))
            return False
        if not data:
            self._end(ConnectionClosed("the parent closed the stream"))
            return False
        answered = False
        try:
            for message in self._decoder.feed(data):
                if isinstance(message, Notification):
                    if self._on_urgent is not None:
                        self._on_urgent(message)
                elif isinstance(message, Response):
                    answered = True
                self._inbox.put(message)
        except ProtocolError as exc:
            self._end(exc)
        except Exception as exc:  # noqa: BLE001 - every waiting thread must hear the end
            # Whatever went wrong, a thread may block on the inbox: without an item there it
            # would wait for ever, and the child would hang instead of exiting.
            self._end(ProtocolError(f"reading the stream failed: {describe_exception(exc)}"))
        return answered

    def _spin(self) -> None:
        """Poll the stream until it has something to read, for at most SPIN_SECONDS."""
        poll = self._poller.poll
        deadline = time.perf_counter() + SPIN_SECONDS
        while not poll(0) and time.perf_counter() < deadline:
            pass

    def _end(self, reason: BaseException) -> None:
        self._ended = True
        self._inbox.put(reason)

    def next_message(self, spin: bool = False) -> Message:
        """Block for the next message; raise ConnectionClosed or ProtocolError at the end.

        `spin`: the caller waits for the answer to its own request (a robot call), which
        usually comes at once: poll for it for SPIN_SECONDS before sleeping, if this thread
        reads the stream itself and the parent is not busy (`BUSY_SECONDS`).
        """
        inbox = self._inbox
        while inbox.empty() and self._read_lock.acquire(blocking=False):
            # The stream is free (the reader thread stepped aside): read it here. What anyone
            # read before is in the inbox already, since the lock was let go only after.
            try:
                if inbox.empty() and not self._ended:
                    if spin and self._parent_quick:
                        self._spin()
                    self._read_once()
            finally:
                self._read_lock.release()
        item = inbox.get()  # whoever holds the stream puts what it reads before letting go
        if self._sent_at:
            # How long the parent took since this side last sent: its answer, or its next
            # message (a spare's request may come long after its hello: a later answer
            # corrects the guess).
            self._parent_quick = time.perf_counter() - self._sent_at < BUSY_SECONDS
        if isinstance(item, BaseException):
            inbox.put(item)  # the stream stays ended for every later reader
            raise item
        return item

    def hand_over(self, stop: Callable[[], bool], timeout: float = 2.0) -> dict[str, Any]:
        """The session's state, for a program that continues it after this process execs it.

        `rfd`/`wfd` are the protocol descriptors, made inheritable; `buffered` is what was read
        and not yet handled (the messages already decoded, encoded again, then the undecoded
        bytes); `next_msgid` numbers the program's first request; `max_message_size` is the
        current limit. The timer of `start(after=...)` is disarmed first (a SIGALRM reaching
        the program before it handles one would kill it). If the reader thread runs, the
        caller must exec at once: a `$/cancel` it reads in the instant before the exec is
        lost. Raises ConnectionClosed if the stream has ended or `stop()` turns true, and
        ProtocolError if a message stays half read for `timeout` seconds.
        """
        self.stop_timer()
        buffered = bytearray()
        deadline = time.monotonic() + timeout
        while True:
            if stop() or self._ended:
                raise ConnectionClosed("the session ended before it was handed over")
            inbox = self._inbox
            while not inbox.empty():
                item = inbox.get()
                if isinstance(item, BaseException):  # the stream ended meanwhile
                    raise ConnectionClosed("the session ended before it was handed over")
                buffered += encode(item, 1 << 62)
            rest = self._decoder.undecoded()
            if rest is not None:
                buffered += rest
                break
            # A message is half read: read its rest here if no reader thread holds the stream
            # (it would complete it).
            if time.monotonic() > deadline:
                raise ProtocolError("a message from the parent stays incomplete")
            if self._read_lock.acquire(blocking=False):
                try:
                    if self._poller.poll(10) and not self._ended:
                        self._read_once()
                finally:
                    self._read_lock.release()
            else:
                time.sleep(0.001)
        for fd in (self._rfd, self._wfd):
            os.set_inheritable(fd, True)
        return {
            "rfd": self._rfd,
            "wfd": self._wfd,
            "max_message_size": self.max_size,
            "next_msgid": self._ids.peek(),
            "buffered": bytes(buffered),
        }

    def send(self, message: Message) -> None:
        """Write one whole message."""
        data = encode(message, self.max_size)
        with self._write_lock:
            write_all(self._wfd, data)
        self._sent_at = time.perf_counter()

    def notify(self, method: str, params: list[Any]) -> None:
        """Send a notification."""
        self.send(Notification(method, params))

    def request(
        self,
        method: str,
        params: list[Any],
        serve: RequestHandler,
        on_notification: NotificationHandler | None = None,
    ) -> Any:
        """Send a request and block for its response, serving the other side meanwhile."""
        msgid = self._ids.allocate(self._pending)
        self._pending[msgid] = None
        try:
            self.send(Request(msgid, method, params))
            while True:
                message = self.next_message(spin=True)
                if isinstance(message, Response):
                    if message.msgid != msgid:
                        raise ProtocolError(f"response to unknown msgid {message.msgid}")
                    if message.error is not None:
                        raise RpcError.from_map(message.error)
                    return message.result
                if isinstance(message, Request):
                    self.serve_one(message, serve)
                elif on_notification is not None:
                    on_notification(message)
        finally:
            self._pending.pop(msgid, None)

    def serve_one(self, request: Request, serve: RequestHandler) -> None:
        """Answer one request from the other side with its result or error."""
        try:
            response = Response(request.msgid, None, serve(request))
        except Exception as exc:  # noqa: BLE001 - any failure becomes an error response
            response = error_response(request.msgid, exc)
        self.send_response(response)

    def send_response(self, response: Response) -> None:
        """Send a response; one too large to encode is replaced by its error response."""
        try:
            self.send(response)
        except ProtocolError as exc:
            self.send(error_response(response.msgid, exc))
