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
new connection, of the accept) is answered 408 and closed. Bodies larger than
``max_buffer`` are handed over after their headers (the app refuses them: 413).

Threads also get a socket timeout (``request_timeout``) for what remains: a client
that stops reading its answer is dropped, it does not keep a thread.
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
MAX_BUFFER = 1024 * 1024 + MAX_HEADERS  # bytes kept per connection before handing over
_TIMEOUT_BODY = b'{"success": false, "error": {"code": "request_timeout", "message": "request too slow"}}'
_TIMEOUT_ANSWER = (
    b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\n\r\n%s" % (len(_TIMEOUT_BODY), _TIMEOUT_BODY)
)


class BufferedSocket:
    """The client socket, as the thread's parser sees it: what the loop read comes first."""

    def __init__(self, sock, timeout):
        self.sock = sock
        self.buffer = b""  # bytes as first read, a bytearray once more arrives
        self.timeout = timeout

    def recv(self, size, *flags):
        if self.buffer:
            if size >= len(self.buffer):
                data, self.buffer = bytes(self.buffer), b""
            else:
                data, self.buffer = bytes(self.buffer[:size]), self.buffer[size:]
            return data
        return self.sock.recv(size, *flags)

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


def request_complete(data, max_buffer=MAX_BUFFER):
    """True when ``data`` (bytes from a connection) holds a whole request, or enough that
    waiting for more is pointless (too large: the parser and the app refuse it)."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return len(data) > MAX_HEADERS
    if _BODY_HEADER.search(data, 0, end + 2) is None:
        return True  # no body (a GET): the common case, decided in one scan
    head = bytes(data[:end]).lower()
    body = len(data) - end - 4
    length, chunked = None, False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name, value = name.strip(), value.strip()
        if name == b"content-length":
            if not value.isdigit() or length is not None:
                return True  # malformed: the parser answers 400 at once
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = chunked or b"chunked" in value
    if chunked:
        # The last chunk and the end of the trailers (none: the common case).
        return bytes(data[end:]).find(b"\r\n0\r\n") >= 0 and data.endswith(b"\r\n\r\n") or len(data) > max_buffer
    if length is None:
        return True
    return body >= length or length > max_buffer


class BufferingWorker(ThreadWorker):
    """gthread with requests read on the event loop (see the module's text)."""

    request_timeout = REQUEST_TIMEOUT
    max_buffer = MAX_BUFFER

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.reading = deque()  # connections still receiving a request, oldest first
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

    def on_client_socket_readable(self, conn, client):
        """A kept-alive connection sends its next request. The fast path: it came whole
        in one read, as nearly every request does, and goes to a thread at once, with
        the same poller calls as gthread's. Only a request that is not complete yet is
        kept on the loop (re-registered in place, one call)."""
        self.keepalived_conns.remove(conn)
        if self._receive(conn) is None:
            return
        if request_complete(conn.sock.buffer, self.max_buffer):
            self.poller.unregister(client)
            conn.data_ready = True
            self.enqueue_req(conn)
            return
        conn.timeout = time.monotonic() + self.request_timeout
        conn.continued = False
        self.reading.append(conn)
        self.poller.modify(client, selectors.EVENT_READ, partial(self._on_readable, conn))
        self._check_continue(conn)

    def _start_reading(self, conn):
        conn.timeout = time.monotonic() + self.request_timeout
        conn.continued = False
        self.reading.append(conn)
        self.poller.register(conn.sock.sock, selectors.EVENT_READ, partial(self._on_readable, conn))

    def _on_readable(self, conn, client):
        self._read(conn)

    def _read(self, conn):
        if self._receive(conn) is None:
            return
        if request_complete(conn.sock.buffer, self.max_buffer):
            self._stop_reading(conn)
            conn.data_ready = True  # gthread's handle() must not wait for data again
            self.enqueue_req(conn)
        else:
            self._check_continue(conn)

    def _receive(self, conn):
        """Read what the socket holds into the connection's buffer (a first read is kept
        as it came: no copy); None when the client went away (it is dropped)."""
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
                if len(data) < 65536:
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

    def murder_pending(self):
        """gthread's clean-up of deferred connections, and ours: requests too slow to
        arrive are answered 408 and closed."""
        super().murder_pending()
        now = time.monotonic()
        while self.reading and self.reading[0].timeout <= now:
            conn = self.reading[0]
            self._drop(conn, _TIMEOUT_ANSWER if conn.sock.buffer else None)

    def finish_request(self, conn, fs):
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
