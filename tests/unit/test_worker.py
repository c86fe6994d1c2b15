"""The request-completeness rule of transientd's worker (transient/api/worker.py): a
request goes to a thread only once its headers and body are in."""

from transient.api.worker import MAX_HEADERS, BufferedSocket, request_complete

HEAD = b"POST /payments HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n"


def test_headers_and_body_must_be_in():
    assert not request_complete(b"")
    assert not request_complete(b"GET /healthz HTTP/1.1\r\nHost: x")
    assert request_complete(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert not request_complete(HEAD + b"12345")
    assert request_complete(HEAD + b"1234567890")


def test_chunked_bodies_wait_for_the_last_chunk():
    head = b"POST /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    assert not request_complete(head + b"5\r\nhello\r\n")
    assert request_complete(head + b"5\r\nhello\r\n0\r\n\r\n")


def test_what_the_parser_refuses_anyway_goes_to_it_at_once():
    assert request_complete(b"POST /p HTTP/1.1\r\nContent-Length: x1\r\n\r\n")  # 400
    assert request_complete(b"POST /p HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")
    assert request_complete(b"POST /p HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n", max_buffer=1000)  # 413
    assert request_complete(b"GET /" + b"a" * (MAX_HEADERS + 1))  # 431/400


def test_the_thread_reads_the_buffer_first():
    class Sock:
        def recv(self, size):
            return b"from-socket"

    s = BufferedSocket(Sock(), 10)
    s.buffer += b"abcdef"
    assert s.recv(4) == b"abcd" and s.recv(10) == b"ef" and s.recv(10) == b"from-socket"
