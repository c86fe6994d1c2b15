"""The request-completeness rule of transientd's worker (transient/ops/worker.py): a
request goes to a thread only once its headers and body are in, a body over the limit
never does, and what a thread still reads is bound by the request's deadline."""

import socket
import time

from transient.ops.worker import (
    COMPLETE,
    INCOMPLETE,
    MAX_HEADERS,
    TOO_LARGE,
    BufferedSocket,
    ChunkScan,
    request_complete,
)

HEAD = b"POST /payments HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n"
CHUNKED = b"POST /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"


def test_headers_and_body_must_be_in():
    assert not request_complete(b"")
    assert not request_complete(b"GET /healthz HTTP/1.1\r\nHost: x")
    assert request_complete(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n") == COMPLETE
    assert request_complete(HEAD + b"12345") == INCOMPLETE
    assert request_complete(HEAD + b"1234567890") == COMPLETE


def test_chunked_bodies_wait_for_the_last_chunk():
    assert not request_complete(CHUNKED + b"5\r\nhello\r\n")
    assert request_complete(CHUNKED + b"5\r\nhello\r\n0\r\n\r\n") == COMPLETE
    assert request_complete(CHUNKED + b"5;ext=1\r\nhello\r\n0 \r\nX-Trailer: 1\r\n\r\n") == COMPLETE
    assert request_complete(CHUNKED + b"5\r\nhello\r\n0\r\nX-Trailer: 1\r\n") == INCOMPLETE


def test_a_last_chunk_inside_a_chunks_data_is_data():
    # A chunk of 0x100 bytes whose first bytes look like the end of the body: the
    # request is not complete until its 256 bytes (and the real last chunk) are in.
    looks_done = CHUNKED + b"100\r\n\r\n0\r\n\r\n"
    assert request_complete(looks_done) == INCOMPLETE
    assert request_complete(looks_done + b"x") == INCOMPLETE
    body = b"\r\n0\r\n\r\n" + b"x" * (0x100 - 7)
    assert request_complete(CHUNKED + b"100\r\n" + body + b"\r\n") == INCOMPLETE
    assert request_complete(CHUNKED + b"100\r\n" + body + b"\r\n0\r\n\r\n") == COMPLETE


def test_a_chunked_body_is_read_on_from_where_it_stopped():
    scan = ChunkScan()
    data = bytearray(CHUNKED + b"5\r\nhello\r\n3\r\nab")
    assert request_complete(data, scan=scan) == INCOMPLETE
    assert scan.size == 5  # the first chunk is behind it, the second not yet
    data += b"c\r\n0\r\n\r\n"
    assert request_complete(data, scan=scan) == COMPLETE


def test_bodies_over_the_limit_are_too_large_as_soon_as_that_is_known():
    assert request_complete(b"POST /p HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n", max_body=1000) == TOO_LARGE
    assert request_complete(CHUNKED + b"3e9\r\n", max_body=1000) == TOO_LARGE  # one chunk of 1001 bytes
    assert request_complete(CHUNKED + b"ffffffffffffff\r\n", max_body=1000) == TOO_LARGE
    # 300 one-byte chunks: 300 bytes of data in 1 800 on the wire
    assert request_complete(CHUNKED + b"1\r\nx\r\n" * 300, max_body=800) == TOO_LARGE
    assert request_complete(HEAD + b"1234567890", max_body=10) == COMPLETE


def test_what_the_parser_refuses_anyway_goes_to_it_at_once():
    assert request_complete(b"POST /p HTTP/1.1\r\nContent-Length: x1\r\n\r\n") == COMPLETE  # 400
    assert request_complete(b"POST /p HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n") == COMPLETE
    assert request_complete(b"GET /" + b"a" * (MAX_HEADERS + 1)) == COMPLETE  # 431/400
    assert request_complete(CHUNKED + b"5x\r\nhello\r\n") == COMPLETE  # a bad size: 400
    assert request_complete(CHUNKED + b"5\r\nhelloXY0\r\n\r\n") == COMPLETE  # no CRLF after the data: 400
    assert request_complete(CHUNKED + b"1" * 2000) == COMPLETE  # a size line with no end: 400


def test_the_thread_reads_the_buffer_first():
    a, b = socket.socketpair()
    with a, b:
        s = BufferedSocket(a, 10)
        s.deadline = time.monotonic() + 10
        s.buffer += b"abcdef"
        b.sendall(b"from-socket")
        assert s.recv(4) == b"abcd" and s.recv(10) == b"ef" and s.recv(20) == b"from-socket"


def test_the_thread_reads_no_later_than_the_requests_deadline():
    # A client sending a byte now and then kept a thread as long as each byte came
    # within the per-read timeout; the request's deadline ends it (as if it went away).
    a, b = socket.socketpair()
    with a, b:
        s = BufferedSocket(a, 10)
        s.setblocking(True)
        s.deadline = time.monotonic() + 0.3
        b.sendall(b"x")
        assert s.recv(10) == b"x"
        assert s.recv(10) == b""  # nothing more came: the read ends at the deadline, not after 10 s
        assert a.gettimeout() == 10  # the answer is written with the usual timeout
        b.sendall(b"late")
        assert s.recv(10) == b""  # past the deadline the socket is not read at all
