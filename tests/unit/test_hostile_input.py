"""Hostile input through the HTTP API in-process (issue 14, findings 4-6): lone
surrogates and NUL bytes, Unicode digits and huge numbers, deep metadata, out-of-range
times and ids, bodies sent chunked, HEAD on every GET route. Each answer is a 4xx JSON
error naming the field (never a 500), and a bad stored row never breaks a list."""

import json
import uuid

import pytest
from _api import post
from fakes import fake_runtime

from transient.payments import validation
from transient.store.db import write_transaction
from transient.store.models import Payment


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    client, runtime = fake_runtime(tmp_path_factory.mktemp("hostile"))
    yield client, runtime
    runtime.close()


def _count(client):
    return len(client.simulate_get("/payments", params={"limit": 500}).json["payments"])


def _raw_post(client, raw, path="/payments"):
    return client.simulate_post(path, body=raw, headers={"Content-Type": "application/json"})


BAD_TEXT = [
    ('{"currency": "LTC", "amount": 1, "metadata": {"\\udfff": 1}}', "metadata"),
    ('{"currency": "LTC", "amount": 1, "metadata": {"a": ["ok", {"b": "\\ud800"}]}}', "metadata"),
    ('{"currency": "LTC", "amount": 1, "account": "a\\udfffb"}', "account"),
    ('{"currency": "LTC", "amount": 1, "account": "a\\u0000b"}', "account"),
    ('{"currency": "LTC", "amount": 1, "metadata": {"description": "x\\u0000"}}', "metadata"),
    ('{"currency": "LTC", "amount": 1, "metadata": {"k\\u0000": "v"}}', "metadata"),
    ('{"currency": "LTC\\udfff", "amount": 1}', "currency"),
    ('{"currency": "LTC", "amount": 1, "callback_url": "https://a.example/\\ud800"}', "callback_url"),
]


@pytest.mark.parametrize("raw, field", BAD_TEXT)
def test_lone_surrogates_and_nul_bytes_are_refused_naming_the_field(api, raw, field):
    client, _ = api
    before = _count(client)
    resp = _raw_post(client, raw)
    assert resp.status_code == 422, resp.text
    assert resp.json["error"]["field"] == field
    assert _count(client) == before


def test_a_stored_row_that_cannot_be_rendered_never_breaks_reads_or_lists(api):
    """Rows written before the input check (or by hand) still render: every page of the
    list, the payment itself and its checkout page answer 200."""
    client, runtime = api
    good = post(client, {"currency": "LTC", "amount": "1"}).json["payment"]["id"]
    bad = post(client, {"currency": "LTC", "amount": "2"}).json["payment"]["id"]
    with write_transaction(runtime.db):
        Payment.update(metadata='{"\\udfff": "\\ud800", "description": "x\\udfff"}').where(
            Payment.id == uuid.UUID(bad)
        ).execute()
    for path in ("/payments/%s" % bad, "/pay/%s" % bad, "/payments/%s/events" % bad):
        resp = client.simulate_get(path)
        assert resp.status_code == 200, (path, resp.text)
    seen, cursor = set(), None
    while True:
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = client.simulate_get("/payments", params=params)
        assert page.status_code == 200, page.text
        seen |= {p["id"] for p in page.json["payments"]}
        cursor = page.json["next_cursor"]
        if not cursor:
            break
    assert {good, bad} <= seen
    shown = client.simulate_get("/payments/%s" % bad).json["payment"]
    assert shown["metadata"] == {"\ufffd": "\ufffd", "description": "x\ufffd"}
    assert "x\ufffd" in client.simulate_get("/pay/%s" % bad).text


BAD_FIELDS = [
    ({"currency": "LTC", "amount": 1, "confirmations": "²"}, "confirmations"),
    ({"currency": "LTC", "amount": 1, "confirmations": "٣"}, "confirmations"),
    ({"currency": "LTC", "amount": 1, "confirmations": "3\n"}, "confirmations"),
    ({"currency": "LTC", "amount": 1, "expires_in": "9" * 5000}, "expires_in"),
    ({"currency": "LTC", "amount": 1, "expires_in": "١٢٠"}, "expires_in"),
    ({"currency": "LTC", "amount": "١"}, "amount"),
    ({"currency": "LTC", "amount": "9" * 5000}, "amount"),
    ({"currency": "LTC", "amount": 1, "expires_at": "0001-01-01T00:00:00+14:00"}, "expires_at"),
    ({"currency": "LTC", "amount": 1, "expires_at": "9999-12-31T23:59:59-14:00"}, "expires_at"),
    ({"currency": "LTC", "amount": 1, "underpayment_tolerance": "1e999999"}, "underpayment_tolerance"),
]


@pytest.mark.parametrize("body, field", BAD_FIELDS)
def test_bad_integers_times_and_amounts_are_4xx_naming_the_field(api, body, field):
    client, _ = api
    before = _count(client)
    resp = post(client, body)
    assert resp.status_code == 422, resp.text
    assert resp.json["error"]["field"] == field
    assert _count(client) == before


@pytest.mark.parametrize(
    "raw, status, field",
    [
        ('{"currency": "LTC", "amount": 1e999999}', 422, "amount"),
        ('{"currency": "LTC", "amount": 1e-999999}', 422, "amount"),
        ('{"currency": "LTC", "amount": 1e9999999999999999999}', 400, None),
        ('{"currency": "LTC", "amount": 1, "confirmations": 1e5}', 422, "confirmations"),
        ('{"currency": "LTC", "amount": %s}' % ("9" * 4000), 422, "amount"),
        ('{"currency": "LTC", "amount": 1, "metadata": %s1%s}' % ('{"a":' * 1000, "}" * 1000), 422, "metadata"),
        ('{"currency": "LTC", "amount": 1, "metadata": %s1%s}' % ("[" * 30000, "]" * 30000), 422, "metadata"),
        ('{"currency": "LTC", "amount": 1, "pad": %s1%s}' % ("[" * 40, "]" * 40), 422, "pad"),
        ("[" * 5000 + "]" * 5000, 422, None),
    ],
)
def test_huge_numbers_and_deep_nesting_are_4xx(api, raw, status, field):
    client, _ = api
    resp = _raw_post(client, raw)
    assert resp.status_code == status, resp.text
    assert resp.json["error"]["field"] == field


def test_metadata_depth_and_size_limits(api):
    client, _ = api

    def nested(depth):
        value = 1
        for _ in range(depth - 1):
            value = {"a": value}
        return {"k": value}

    ok = post(client, {"currency": "LTC", "amount": 1, "metadata": nested(validation.MAX_METADATA_DEPTH)})
    assert ok.status_code == 201, ok.text
    deep = post(client, {"currency": "LTC", "amount": 1, "metadata": nested(validation.MAX_METADATA_DEPTH + 1)})
    assert deep.status_code == 422 and "deep" in deep.json["error"]["message"]
    big = post(client, {"currency": "LTC", "amount": 1, "metadata": {"k": "x" * validation.MAX_METADATA}})
    assert big.status_code == 422 and big.json["error"]["field"] == "metadata"


@pytest.mark.parametrize(
    "query, field",
    [
        ("limit=%C2%B2", "limit"),
        ("limit=%D9%A3", "limit"),
        ("limit=" + "9" * 5000, "limit"),
        ("limit=%205", "limit"),
        ("limit=5%0A", "limit"),
        ("status=%ED%BF%BF", "status"),
        ("status=%00", "status"),
        ("currency=%00", "currency"),
        ("currency=LTC%00", "currency"),
        ("currency=" + "L" * 300, "currency"),
    ],
)
def test_bad_query_parameters_are_4xx(api, query, field):
    client, _ = api
    resp = client.simulate_get("/payments", query_string=query)
    assert resp.status_code == 422, resp.text
    assert resp.json["error"]["field"] == field


@pytest.mark.parametrize("did", [str(2**63), str(2**64 + 5), "9" * 5000, "٣", "²", "-1"])
def test_redeliver_ids_out_of_range_are_404(api, did):
    client, _ = api
    resp = client.simulate_post("/deliveries/%s/redeliver" % did)
    assert resp.status_code == 404, resp.text
    assert resp.json["error"]["field"] == "id"


@pytest.mark.parametrize("query", ["size=32", "size=40&border=0", "size=2048&v=x"])
def test_qrcode_errors_are_json(api, query):
    client, _ = api
    pid = post(client, {"currency": "LTC", "amount": "1"}).json["payment"]["id"]
    resp = client.simulate_get("/payments/%s/qrcode.png" % pid, query_string=query)
    if resp.status_code == 200:
        assert resp.headers["content-type"] == "image/png"
        return
    assert resp.status_code == 400, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    assert resp.json["error"]["field"] == "size" and "etag" not in resp.headers


def test_a_chunked_body_is_read(api):
    client, _ = api
    body = json.dumps({"currency": "LTC", "amount": "1.5"}).encode()
    # What gunicorn hands the app for "Transfer-Encoding: chunked": no Content-Length,
    # a wsgi.input that ends where the body ends.
    resp = client.simulate_post(
        "/payments",
        body=body,
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        extras={"CONTENT_LENGTH": ""},
    )
    assert resp.status_code == 201, resp.text
    assert resp.json["payment"]["amount"] == "1.5"
    big = json.dumps({"currency": "LTC", "amount": 1, "metadata": {"k": "x" * 70000}}).encode()
    resp = client.simulate_post(
        "/payments",
        body=big,
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        extras={"CONTENT_LENGTH": ""},
    )
    assert resp.status_code == 413, resp.text


def _get_routes(client, pid):
    return [
        "/payments",
        "/payments/%s" % pid,
        "/payments/%s/events" % pid,
        "/payments/%s/qrcode.png" % pid,
        "/payments/%s/qrcode.svg" % pid,
        "/pay/%s" % pid,
        "/pay/static/checkout.js",
        "/healthz",
    ]


def test_head_answers_every_get_route_like_get_without_a_body(api):
    client, _ = api
    pid = post(client, {"currency": "LTC", "amount": "1"}).json["payment"]["id"]
    for path in _get_routes(client, pid):
        got = client.simulate_get(path)
        head = client.simulate_head(path)
        assert head.status_code == got.status_code == 200, (path, head.status_code, head.text)
        assert head.content == b"", path
        assert head.headers.get("content-type") == got.headers.get("content-type"), path
    missing = client.simulate_head("/payments/%s" % uuid.uuid4())
    assert missing.status_code == 404 and missing.content == b""


def test_head_is_allowed_on_every_route_that_allows_get(api):
    """Every route of the app (from Falcon's router) that has a GET responder has HEAD."""
    client, _ = api
    app = client.app
    nodes, resources = list(app._router._roots), []
    while nodes:
        node = nodes.pop()
        nodes.extend(node.children)
        if node.resource is not None:
            resources.append((node.uri_template, node.resource))
    assert len(resources) >= 10
    for template, resource in resources:
        if hasattr(resource, "on_get"):
            assert getattr(resource, "on_head", None) is not None, template


@pytest.mark.parametrize("value", ["ab" * 32 + "\n", "AB" * 32 + "\n"])
def test_notify_refuses_a_trailing_newline(api, value):
    client, _ = api
    resp = client.simulate_post("/notify/LTC/transaction/" + value.replace("\n", "%0A"))
    assert resp.status_code == 422, resp.text
    assert resp.json["error"]["field"] == "txid"


def test_idempotency_key_refuses_a_trailing_newline(api):
    client, _ = api
    with pytest.raises(Exception) as err:
        validation.idempotency_key("order-1\n")
    assert err.value.field == "Idempotency-Key"
