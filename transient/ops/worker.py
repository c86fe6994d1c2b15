"""The gunicorn worker transientd runs: gthread, except that a request is read on the
worker's event loop and handed to a thread only once it is complete.

gunicorn's gthread worker gives a connection a thread as soon as it is readable; a
client that sends part of its headers or body and then stalls keeps that thread until
it goes away, and a handful of them (one per thread) froze the API. Here the main loop
reads what arrives (non-blocking) into the connection's buffer until the headers and
the body (Content-Length, or the last chunk) are in, then the thread parses and serves
it from memory: a slow or stalled client costs a socket and its buffer, not a thread.
A kept-alive connection's next request nearly always arrives whole in one read: it goes
to a thread at once, with the same poller calls as gthread's (bench/api_throughput.py
measures the daemon under both workers in one run).
A request not complete within ``request_timeout`` seconds of its first byte (or, on a
new connection, of the accept) is answered 408 and closed; what a thread still reads of
it (a body larger than its first packets, a pipelined request) is bound by the same
deadline, not only by a per-read timeout. A chunked body is complete when its framing
says so (each chunk's size is read), never because ``0\r\n`` shows up in its data.
No more than ``max_body`` (the app's limit, ``[api] max_body``) of a body is buffered:
a larger one is answered 413 on the loop and the connection closed, so a thousand
connections cost a thousand small buffers, not a gigabyte.
Near ``worker_connections`` the oldest idle connection (silent since its accept, or
kept alive and silent) makes room for a new one, then the oldest still sending: a
flood of idle sockets cannot keep ``/healthz`` and ``/metrics`` out.
"""

import errno
import re
import selectors
import time
from collections import deque
from functools import partial

from gunicorn.workers.gthread import TConn, ThreadWorker

REQUEST_TIMEOUT = 10.0  # seconds for the headers and body of one request
MAX_HEADERS = 64 * 1024  # bytes: beyond this the parser refuses the request (431/400)
MAX_BODY = 64 * 1024  # bytes of a body, as [api] max_body's default
INCOMPLETE, COMPLETE, TOO_LARGE = 0, 1, 2  # what request_complete says (INCOMPLETE is falsy)


def _answer(status, code, message, headers=b""):
    body = b'{"success": false, "error": {"code": "%s", "message": "%s", "field": null}}' % (code, message)
    return b"HTTP/1.1 %s\r\nConnection: close\r\nContent-Type: application/json\r\n%sContent-Length: %d\r\n\r\n%s" % (
        status,
        headers,
        len(body),
        body,
    )


_TIMEOUT_ANSWER = _answer(b"408 Request Timeout", b"request_timeout", b"request too slow")
_BUSY_ANSWER = _answer(
    b"503 Service Unavailable", b"busy", b"too many open connections; retry shortly", b"Retry-After: 1\r\n"
)


class BufferedSocket:
    """The client socket, as the thread's parser sees it: what the loop read comes first,
    then the socket, until the request's deadline."""

    def __init__(self, sock, timeout):
        self.sock = sock
        self.buffer = b""  # bytes as first read, a bytearray once more arrives
        self.timeout = timeout
        self.deadline = 0.0  # set when the request goes to a thread
        self.scan = ChunkScan()  # how far a chunked body's framing was read

    def recv(self, size, *flags):
        if self.buffer:
            if size >= len(self.buffer):
                data, self.buffer = bytes(self.buffer), b""
            else:
                data, self.buffer = bytes(self.buffer[:size]), self.buffer[size:]
            return data
        # The loop did not read this part: a per-read timeout alone let a client that
        # sends a byte now and then keep the thread for ever.
        left = self.deadline - time.monotonic()
        if left <= 0:
            return b""  # as if the client went away: the thread is freed
        self.sock.settimeout(min(self.timeout, left))
        try:
            return self.sock.recv(size, *flags)
        except TimeoutError:
            if time.monotonic() < self.deadline:
                raise  # the per-read timeout
            return b""
        finally:
            self.sock.settimeout(self.timeout)  # the answer is written with the usual timeout

    def setblocking(self, flag):
        # Blocking in a thread, but never for ever: a client that stops reading its
        # answer (or sends more than it announced, slowly) is dropped.
        if flag:
            self.sock.settimeout(self.timeout)
        else:
            self.sock.setblocking(False)

    def __getattr__(self, name):
        return getattr(self.sock, name)


_BODY_HEADER = re.compile(rb"\r\n(?:content-length|transfer-encoding)[ \t]*:", re.IGNORECASE)
# A chunk's size line as gunicorn's parser takes it: hex digits, blanks, an extension.
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,15})[ \t]*(?:;[^\r\n]*)?\r\n")
_MAX_SIZE_LINE = 1024  # bytes: a longer one is refused by the parser (400)


class ChunkScan:
    """Where the framing of a chunked body was read up to, so that each new packet of a
    slow body costs its own bytes, not a scan from the start."""

    __slots__ = ("start", "pos", "size")

    def __init__(self):
        self.reset()

    def reset(self):
        """For the connection's next request."""
        self.start = self.pos = None  # the body's first byte; the next chunk's size line
        self.size = 0  # bytes of data in the chunks before it


def request_complete(data, max_body=MAX_BODY, scan=None):
    """What ``data`` (bytes from a connection) holds: INCOMPLETE, COMPLETE (a whole
    request, or one the parser refuses at once: malformed, headers too long), or
    TOO_LARGE (a body over ``max_body``). ``scan`` keeps a chunked body's progress."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return COMPLETE if len(data) > MAX_HEADERS else INCOMPLETE
    if _BODY_HEADER.search(data, 0, end + 2) is None:
        return COMPLETE  # no body (a GET): the common case, decided in one scan
    head = bytes(data[:end]).lower()
    length, chunked = None, False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name, value = name.strip(), value.strip()
        if name == b"content-length":
            if not value.isdigit() or length is not None:
                return COMPLETE  # malformed: the parser answers 400 at once
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = chunked or b"chunked" in value
    if chunked:
        scan = scan or ChunkScan()
        if scan.pos is None:
            scan.start = scan.pos = end + 4
        return _chunked_complete(data, scan, max_body)
    if length is None:
        return COMPLETE
    if length > max_body:
        return TOO_LARGE
    return COMPLETE if len(data) - end - 4 >= length else INCOMPLETE


def _chunked_complete(data, scan, max_body):
    """The chunked body from ``scan.pos``: chunk by chunk, by their sizes."""
    while True:
        line_end = data.find(b"\r\n", scan.pos, scan.pos + _MAX_SIZE_LINE)
        if line_end < 0:
            return COMPLETE if len(data) - scan.pos > _MAX_SIZE_LINE else INCOMPLETE
        match = _CHUNK_SIZE.fullmatch(data, scan.pos, line_end + 2)
        if match is None:
            return COMPLETE  # malformed: the parser answers 400
        size = int(match.group(1), 16)
        if size == 0:  # the last chunk, then trailers up to a blank line
            if data[line_end + 2 : line_end + 4] == b"\r\n":
                return COMPLETE
            trailers = data.find(b"\r\n\r\n", line_end)
            return COMPLETE if trailers >= 0 or len(data) - line_end > MAX_HEADERS else INCOMPLETE
        # Over the limit in data, or in framing (a byte per chunk is six on the wire).
        if scan.size + size > max_body or line_end - scan.start > 2 * max_body:
            return TOO_LARGE
        after = line_end + 2 + size + 2
        if len(data) < after:
            return INCOMPLETE
        if data[after - 2 : after] != b"\r\n":
            return COMPLETE  # malformed: the parser answers 400
        scan.pos, scan.size = after, scan.size + size


class BufferingWorker(ThreadWorker):
    """gthread with requests read on the event loop (see the module's text)."""

    request_timeout = REQUEST_TIMEOUT
    max_body = MAX_BODY
    spare = 16  # connections kept free below worker_connections for new clients

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.reading = deque()  # connections still receiving a request, oldest first
        # Read no further ahead than a request can be before it is decided (see _chunked_complete).
        self.max_buffer = 2 * MAX_HEADERS + 3 * self.max_body
        self.too_large = _answer(
            b"413 Content Too Large", b"content_too_large", b"the request body is larger than %d bytes" % self.max_body
        )
        if self.cfg.is_ssl:
            raise RuntimeError("BufferingWorker serves plain HTTP (TLS belongs to the reverse proxy)")

    # -- new connections and kept-alive ones both start reading on the loop ----------

    def accept(self, listener):
        try:
            client_sock, client_addr = listener.accept()
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        client_sock.setblocking(False)
        conn = TConn(self.cfg, client_sock, client_addr, listener.getsockname())
        conn.sock = BufferedSocket(client_sock, self.request_timeout)
        self._start_reading(conn)
        if self.nr_conns > self.worker_connections - self.spare:
            self._make_room()

    def on_client_socket_readable(self, conn, client):
        """A kept-alive connection sends its next request. The fast path: it came whole
        in one read, as nearly every request does, and goes to a thread at once, with
        the same poller calls as gthread's. Only a request that is not complete yet is
        kept on the loop (re-registered in place, one call)."""
        self.keepalived_conns.remove(conn)
        if self._receive(conn) is None:
            return
        state = request_complete(conn.sock.buffer, self.max_body)
        if state == COMPLETE:
            self.poller.unregister(client)
            self._hand_over(conn, time.monotonic() + self.request_timeout)
            return
        conn.timeout = time.monotonic() + self.request_timeout
        conn.continued = False
        conn.sock.scan.reset()
        self.reading.append(conn)
        self.poller.modify(client, selectors.EVENT_READ, partial(self._on_readable, conn))
        self._decide(conn, state)

    def _start_reading(self, conn):
        conn.timeout = time.monotonic() + self.request_timeout
        conn.continued = False
        conn.sock.scan.reset()
        self.reading.append(conn)
        self.poller.register(conn.sock.sock, selectors.EVENT_READ, partial(self._on_readable, conn))

    def _on_readable(self, conn, client):
        if self._receive(conn) is not None:
            self._decide(conn, request_complete(conn.sock.buffer, self.max_body, conn.sock.scan))

    def _decide(self, conn, state):
        if state == COMPLETE:
            self._stop_reading(conn)
            self._hand_over(conn, conn.timeout)
        elif state == TOO_LARGE:
            self._drop(conn, self.too_large)  # no thread reads a body the app refuses
        else:
            self._check_continue(conn)

    def _hand_over(self, conn, deadline):
        conn.sock.deadline = deadline  # what the thread still reads, it reads by then
        conn.data_ready = True  # gthread's handle() must not wait for data again
        self.enqueue_req(conn)

    def _receive(self, conn):
        """Read what the socket holds into the connection's buffer (a first read is kept
        as it came: no copy), up to ``max_buffer``; None when the client went away (it
        is dropped)."""
        buffered = conn.sock
        try:
            while True:
                data = buffered.sock.recv(65536)
                if not data:
                    return self._drop(conn)  # the client went away
                if not buffered.buffer:
                    buffered.buffer = data
                else:
                    if isinstance(buffered.buffer, bytes):
                        buffered.buffer = bytearray(buffered.buffer)
                    buffered.buffer += data
                if len(data) < 65536 or len(buffered.buffer) > self.max_buffer:
                    break
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            return self._drop(conn)
        return True

    def _check_continue(self, conn):
        buffered = conn.sock
        if not conn.continued and _expects_continue(buffered.buffer):
            conn.continued = True  # once per request: curl's large POSTs wait for it
            try:
                buffered.sock.send(b"HTTP/1.1 100 Continue\r\n\r\n")
            except OSError:
                self._drop(conn)

    def _stop_reading(self, conn):
        try:
            self.poller.unregister(conn.sock.sock)
        except (KeyError, ValueError, OSError):
            pass
        try:
            self.reading.remove(conn)
        except ValueError:
            pass

    def _drop(self, conn, answer=None):
        self._stop_reading(conn)
        if answer:
            try:
                conn.sock.sock.send(answer)
            except OSError:
                pass
        self.nr_conns -= 1
        try:
            conn.sock.sock.close()
        except OSError:
            pass

    def _make_room(self):
        """Near the cap, close the oldest idle connection (accepted and silent, or kept
        alive and silent), else the oldest still sending its request (503): new clients
        get in, as they would after the idle ones' timeouts."""
        silent = next((c for c in self.reading if not c.sock.buffer), None)
        if silent is not None:
            self._drop(silent)
        elif self.keepalived_conns:
            conn = self.keepalived_conns.popleft()
            try:
                self.poller.unregister(conn.sock)
            except (KeyError, ValueError, OSError):
                pass
            self.nr_conns -= 1
            conn.close()
        elif self.reading:
            self._drop(self.reading[0], _BUSY_ANSWER)

    def murder_pending(self):
        """gthread's clean-up of deferred connections, and ours: requests too slow to
        arrive are answered 408 and closed."""
        super().murder_pending()
        now = time.monotonic()
        while self.reading and self.reading[0].timeout <= now:
            conn = self.reading[0]
            self._drop(conn, _TIMEOUT_ANSWER if conn.sock.buffer else None)

    def finish_request(self, conn, fs):
        # What the thread's parser read ahead (a pipelined request, maybe incomplete)
        # goes back to our buffer: gthread would give it a thread that waits for the rest.
        parser = conn.parser
        if parser is not None:
            ahead = parser.unreader.take_buffered()
            if ahead:
                conn.sock.buffer = ahead + bytes(conn.sock.buffer)
        super().finish_request(conn, fs)
        # Kept alive with a pipelined request already in our buffer: the socket will
        # not turn readable for it, so read on at once.
        if self.keepalived_conns and self.keepalived_conns[-1] is conn and conn.sock.buffer:
            self.on_client_socket_readable(conn, conn.sock)


def _expects_continue(data):
    """True once, when complete headers ask for 100-continue and no body came yet."""
    end = data.find(b"\r\n\r\n")
    if end < 0 or len(data) > end + 4:
        return False
    return b"\r\nexpect: 100-continue" in bytes(data[:end]).lower()
