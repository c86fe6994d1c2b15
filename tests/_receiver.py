"""A real webhook receiver on loopback: records every request, answers from a script."""

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler

from _http import close, serve

from transient.devnet.node import find_free_port


class Request:
    def __init__(self, path, headers, body):
        self.path = path
        self.headers = headers
        self.body = body
        self.at = time.time()

    @property
    def json(self):
        return json.loads(self.body)

    @property
    def event_id(self):
        return self.headers.get("Transient-Event-Id")


class Receiver:
    """``answers`` maps a path to a list of (status, delay seconds) used one per
    request, then ``default``. ``stop()`` and ``start()`` keep the port."""

    def __init__(self, default=200, port=None):
        self.port = port or find_free_port()
        self.default = default
        self.answers = {}
        self.requests = []
        self.lock = threading.Lock()
        self.server = None
        self.connections = set()

    @property
    def url(self):
        return "http://127.0.0.1:%d/hook" % self.port

    def script(self, *answers, path="/hook"):
        """Queue answers: a status or (status, delay) each, for the next requests to ``path``."""
        with self.lock:
            self.answers.setdefault(path, []).extend(a if isinstance(a, tuple) else (a, 0) for a in answers)

    def start(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real receivers do
            disable_nagle_algorithm = True

            def setup(self):
                super().setup()
                with receiver.lock:
                    receiver.connections.add(self.connection)

            def finish(self):
                with receiver.lock:
                    receiver.connections.discard(self.connection)
                super().finish()

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = self.path.split("?")[0]
                with receiver.lock:
                    receiver.requests.append(Request(path, dict(self.headers), body))
                    queued = receiver.answers.get(path)
                    status, delay = queued.pop(0) if queued else (receiver.default, 0)
                if delay:
                    time.sleep(delay)
                reply = b'{"ok": %s}' % (b"true" if status < 300 else b"false")
                try:
                    self.send_response(status)
                    if 300 <= status < 400:
                        self.send_header("Location", "http://127.0.0.1:1/elsewhere")
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(reply)))
                    self.end_headers()
                    self.wfile.write(reply)
                except OSError:
                    pass  # the sender gave up waiting

            def log_message(self, *args):
                pass

        self.server = serve(self.port, Handler)
        return self

    def stop(self):
        """Go down like a crashed receiver: refuse new connections, drop open ones."""
        close(self.server)
        self.server = None
        with self.lock:
            for conn in list(self.connections):
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.connections.clear()

    def received(self, path="/hook"):
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def events(self, path="/hook"):
        """The bodies received, parsed, in arrival order."""
        return [r.json for r in self.received(path)]


class Stalling:
    """A receiver that never answers in time, on a raw socket: ``mode`` "hang" reads the
    request and then says nothing; "trickle" sends its answer's first line one byte every
    ``interval`` seconds (each read sees data, so only a total deadline ends it). Either
    gives up after ``hold`` seconds. ``accepted`` counts the connections it got."""

    def __init__(self, mode="hang", interval=0.5, hold=60, port=None):
        self.mode, self.interval, self.hold = mode, interval, hold
        self.port = port or find_free_port()
        self.accepted = 0
        self.closed_by_peer = []  # seconds each connection lasted until the sender dropped it
        self._stop = threading.Event()
        self._sock = None

    @property
    def url(self):
        return "http://127.0.0.1:%d/hook" % self.port

    def start(self):
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", self.port))
        self._sock.listen(64)
        self._sock.settimeout(0.2)
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def _accept(self):
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            self.accepted += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        t0 = time.monotonic()
        conn.settimeout(self.interval)
        answer = b"HTTP/1.1 200 OK\r\nX-Trickle: " + b"a" * 100000  # headers never end
        sent = 0
        try:
            while not self._stop.is_set() and time.monotonic() - t0 < self.hold:
                try:
                    if conn.recv(65536) == b"":
                        self.closed_by_peer.append(time.monotonic() - t0)
                        return
                except socket.timeout:
                    pass
                if self.mode == "trickle":
                    conn.sendall(answer[sent : sent + 1])
                    sent += 1
        except OSError:
            self.closed_by_peer.append(time.monotonic() - t0)
        finally:
            conn.close()

    def stop(self):
        self._stop.set()
        if self._sock is not None:
            self._sock.close()
