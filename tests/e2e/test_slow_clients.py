"""Slow and stalled HTTP clients against a real transientd: they cost a socket, not a
thread; the API keeps answering with hundreds of them open, and they are dropped after
``[server] request_timeout``."""

import socket
import threading
import time

import pytest
from _daemon import wait_for

pytestmark = pytest.mark.regtest

STALLED = 300
# The worker reads and refuses these before the app or its database sees them: one database is enough.
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def _open(port, payload):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    if payload:
        s.sendall(payload)
    return s


def _stalled_kinds(port, n):
    """``n`` connections: a third send nothing, a third part of their headers, a third
    their headers and part of a body."""
    kinds = [
        b"",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: a",
        b'POST /payments HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"cu',
    ]
    return [_open(port, kinds[i % 3]) for i in range(n)]


def _closed_by_server(s):
    s.settimeout(0.2)
    try:
        while True:
            data = s.recv(65536)
            if not data:
                return True
    except socket.timeout:
        return False
    except OSError:
        return True


def test_hundreds_of_stalled_clients_do_not_freeze_the_api(start_daemon, regtest):
    d = start_daemon(threads=8, env={"TRANSIENT_SERVER_REQUEST_TIMEOUT": "3"})
    p = d.create(currency="LTC", amount="0.1")
    socks = _stalled_kinds(d.port, STALLED)
    try:
        time.sleep(0.5)  # every one of them is open and has sent what it will send
        latencies = []
        for _ in range(20):
            t0 = time.monotonic()
            assert d.http.get(d.base + "/healthz", timeout=5).status_code == 200
            assert d.http.get(d.base + "/pay/%s" % p["id"], timeout=5).status_code == 200
            latencies.append(time.monotonic() - t0)
        latencies.sort()
        print(
            "\n/healthz + /pay/{id} with %d stalled clients open: median %.1f ms, max %.1f ms"
            % (STALLED, latencies[10] * 1000, latencies[-1] * 1000)
        )
        # Before: eight of them held the eight threads and these timed out (5 s here).
        # Then each stalled client is dropped once request_timeout (3 s) has passed.
        wait_for(lambda: all(_closed_by_server(s) for s in socks), timeout=30, interval=0.5)
    finally:
        for s in socks:
            s.close()


def _answers(s, n):
    """Read ``n`` whole HTTP answers (each with a Content-Length) from ``s``; their status lines."""
    data, statuses = b"", []
    while len(statuses) < n:
        end = data.find(b"\r\n\r\n")
        if end >= 0:
            head = data[:end].decode("latin-1")
            length = int(
                next(v for k, _, v in (h.partition(":") for h in head.split("\r\n")) if k.lower() == "content-length")
            )
            if len(data) >= end + 4 + length:
                statuses.append(head.split("\r\n")[0])
                data = data[end + 4 + length :]
                continue
        chunk = s.recv(65536)
        assert chunk, "the server closed the connection after %d answer(s)" % len(statuses)
        data += chunk
    return statuses


def test_a_stalled_request_gets_408_and_a_slow_but_steady_one_is_served(start_daemon, regtest):
    d = start_daemon(threads=2, env={"TRANSIENT_SERVER_REQUEST_TIMEOUT": "3"})
    # One kept-alive connection: a request whole, the next in two parts (it goes back to
    # the event loop until complete), then two pipelined in one packet.
    get = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    kept = _open(d.port, get)
    assert _answers(kept, 1) == ["HTTP/1.1 200 OK"]
    kept.sendall(get[:10])
    time.sleep(0.2)
    kept.sendall(get[10:])
    assert _answers(kept, 1) == ["HTTP/1.1 200 OK"]
    kept.sendall(get + get)
    assert _answers(kept, 2) == ["HTTP/1.1 200 OK"] * 2
    # ... and one that stalls in its next request is answered 408, like a new one.
    kept.sendall(get[:10])
    kept.settimeout(30)
    assert kept.recv(65536).startswith(b"HTTP/1.1 408")
    kept.close()
    body = b'{"currency": "LTC", "amount": "0.1"}'
    head = b"POST /payments HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(
        body
    )
    slow = _open(d.port, b"")
    for i in range(0, len(head + body), 20):  # 20 bytes every 50 ms: slow, but within the timeout
        slow.sendall((head + body)[i : i + 20])
        time.sleep(0.05)
    slow.settimeout(10)
    assert slow.recv(65536).startswith(b"HTTP/1.1 201")
    slow.close()
    stalled = _open(d.port, head + body[:5])
    stalled.settimeout(30)
    answer = stalled.recv(65536)
    assert answer.startswith(b"HTTP/1.1 408") and b"request_timeout" in answer
    stalled.close()


def _trickle(socks, stop, every=1.0):
    """Send one byte on each of ``socks`` every ``every`` seconds until ``stop`` is set."""
    while not stop.wait(every):
        for s in socks:
            try:
                s.send(b"x")
            except OSError:
                pass


@SQLITE_ONLY
def test_a_chunked_body_that_looks_finished_holds_no_thread(start_daemon, regtest):
    # Its first chunk announces 0x100 bytes and begins with what looks like the last
    # chunk: the worker took the request as complete and a thread then waited for the
    # 256 bytes, a byte at a time, each within the per-read timeout: with one such
    # connection per thread, no /healthz was answered for as long as they trickled.
    d = start_daemon(threads=2, env={"TRANSIENT_SERVER_REQUEST_TIMEOUT": "6"})
    looks_done = b"POST /payments HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n100\r\n\r\n0\r\n\r\n"
    socks = [_open(d.port, looks_done) for _ in range(4)]
    stop = threading.Event()
    trickler = threading.Thread(target=_trickle, args=(socks, stop), daemon=True)
    trickler.start()
    try:
        for _ in range(6):
            assert d.http.get(d.base + "/healthz", timeout=5).status_code == 200
            time.sleep(0.3)
        for s in socks:  # each trickled into its 408 once request_timeout (6 s) had passed
            s.settimeout(30)
            assert s.recv(65536).startswith(b"HTTP/1.1 408")
    finally:
        stop.set()
        trickler.join()
        for s in socks:
            s.close()


@SQLITE_ONLY
def test_bodies_over_the_limit_are_refused_before_they_are_buffered(start_daemon, regtest):
    # Each connection's unfinished body was kept up to 1 MiB + 64 KiB although the app
    # takes 64 KiB: 300 of them grew the worker by ~290 MB. Now a body is known to be
    # too large from its Content-Length or its chunk sizes, and answered 413 at once.
    d = start_daemon(threads=2, env={"TRANSIENT_SERVER_REQUEST_TIMEOUT": "30"})
    head = b"POST /payments HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    shapes = [
        head + b"Content-Length: 1048576\r\n\r\n" + b" " * 8192,
        head + b"Transfer-Encoding: chunked\r\n\r\n100000\r\n" + b" " * 8192,
        head + b"Transfer-Encoding: chunked\r\n\r\n" + b"8000\r\n" + b" " * 0x8000 + b"\r\n8001\r\n" + b" " * 1000,
    ]
    socks = [_open(d.port, shapes[i % len(shapes)]) for i in range(150)]
    try:
        for s in socks:
            s.settimeout(10)  # before: no answer until request_timeout (30 s)
            answer = s.recv(65536)
            assert answer.startswith(b"HTTP/1.1 413") and b"content_too_large" in answer, answer[:200]
    finally:
        for s in socks:
            s.close()
    assert d.http.get(d.base + "/healthz", timeout=5).status_code == 200


@SQLITE_ONLY
def test_idle_sockets_at_the_connection_cap_do_not_keep_healthz_out(start_daemon, regtest):
    # 1 100 connections that send nothing, against a cap of 1 000 per worker: the worker
    # stopped accepting, and /healthz waited behind them for their request_timeout.
    d = start_daemon(threads=2, env={"TRANSIENT_SERVER_REQUEST_TIMEOUT": "60"})
    socks = [_open(d.port, b"") for _ in range(1100)]
    try:
        time.sleep(0.5)
        for _ in range(3):
            assert d.http.get(d.base + "/healthz", timeout=10).status_code == 200
        # The oldest silent ones made room; a connection that is sending is kept.
        assert sum(_closed_by_server(s) for s in socks[:50]) == 50
    finally:
        for s in socks:
            s.close()
