"""Slow and stalled HTTP clients against a real transientd: they cost a socket, not a
thread; the API keeps answering with hundreds of them open, and they are dropped after
``[server] request_timeout``."""

import socket
import time

import pytest
from _daemon import wait_for

pytestmark = pytest.mark.regtest

STALLED = 300


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
