"""Hostile input against a real transientd (gunicorn) on the regtest node, on SQLite and
PostgreSQL (which refuses NUL in text; issue 14, findings 4-6): what the in-process tests
in tests/unit/test_hostile_input.py check, through a real server and database."""

import json
import socket

import pytest

pytestmark = pytest.mark.regtest


def _raw(daemon, request):
    """Send raw bytes to the daemon, return the whole answer (the connection is closed)."""
    with socket.create_connection(("127.0.0.1", daemon.port), timeout=30) as sock:
        sock.sendall(request)
        chunks = []
        while True:
            data = sock.recv(65536)
            if not data:
                return b"".join(chunks)
            chunks.append(data)


def test_hostile_input_on_a_real_server_and_database(start_daemon, regtest):
    d = start_daemon()
    raw = lambda body: d.post("/payments", data=body, headers={"Content-Type": "application/json"})  # noqa: E731
    for body, field in [
        ('{"currency": "LTC", "amount": 1, "metadata": {"\\udfff": 1}}', "metadata"),
        ('{"currency": "LTC", "amount": 1, "account": "a\\u0000b"}', "account"),
        ('{"currency": "LTC", "amount": 1, "metadata": {"d": "x\\u0000"}}', "metadata"),
        ('{"currency": "LTC", "amount": 1, "confirmations": "\\u00b2"}', "confirmations"),
        ('{"currency": "LTC", "amount": 1e999999}', "amount"),
        ('{"currency": "LTC", "amount": 1, "expires_at": "0001-01-01T00:00:00+14:00"}', "expires_at"),
        ('{"currency": "LTC", "amount": 1, "metadata": %s1%s}' % ('{"a":' * 1000, "}" * 1000), "metadata"),
    ]:
        resp = raw(body)
        assert resp.status_code == 422, (body[:80], resp.status_code, resp.text)
        assert resp.json()["error"]["field"] == field
    assert raw('{"currency": "LTC", "amount": 1e9999999999999999999}').status_code == 400
    for query in ("currency=%00", "limit=%C2%B2", "limit=" + "9" * 3000, "status=%ED%BF%BF"):
        resp = d.get("/payments?" + query)
        assert resp.status_code == 422, (query, resp.status_code, resp.text)
    assert d.post("/deliveries/%d/redeliver" % 2**63).status_code == 404
    assert d.get("/payments").json()["payments"] == []  # nothing was stored

    # A chunked body (requests sends a generator chunked) is read, not taken as empty.
    body = json.dumps({"currency": "LTC", "amount": "0.5"}).encode()
    resp = d.post("/payments", data=iter([body[:10], body[10:]]), headers={"Content-Type": "application/json"})
    assert resp.status_code == 201, resp.text
    p = resp.json()["payment"]
    assert p["amount"] == "0.5"
    answer = _raw(
        d,
        b"POST /payments HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body),
    )
    assert answer.startswith(b"HTTP/1.1 201"), answer[:300]

    # HEAD on GET routes: the headers of GET, no body.
    for path in ("/healthz", "/payments/%s" % p["id"], "/pay/%s" % p["id"], "/payments/%s/qrcode.png" % p["id"]):
        head = d.http.head(d.base + path, timeout=30)
        assert head.status_code == 200 and head.content == b"", path
    small = d.get("/payments/%s/qrcode.png?size=32" % p["id"])
    assert small.status_code == 400 and small.json()["error"]["field"] == "size"

    # The payment is paid on the node as usual, and still reads and lists.
    regtest.pay(p["payment_address"], "0.5")
    regtest.mine(1)
    d.wait_status(p["id"], "PAID")
    listed = [x["id"] for x in d.get("/payments").json()["payments"]]
    assert len(listed) == 2 and p["id"] in listed  # and the one sent chunked by hand
    assert "Traceback" not in d.log() and "unexpected error" not in d.log()
