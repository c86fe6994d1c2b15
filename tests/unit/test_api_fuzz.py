"""Property tests of the whole HTTP API in-process (issue 14, finding 5): arbitrary JSON
bodies, arbitrary bytes, arbitrary query strings and path values, sent with GET, HEAD and
POST to every route of the app (read from Falcon's router, so a new route is covered the
day it is added). No answer is a 5xx, and every JSON answer parses."""

import json
import re
import urllib.parse

import pytest
from _api import post
from fakes import fake_runtime
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from transient.payments.validation import CREATE_FIELDS

ANY_CHAR = st.characters(blacklist_categories=())  # surrogates and control characters too
TEXT = st.text(ANY_CHAR, max_size=30)
TRICKY = st.sampled_from(
    [
        "LTC",
        "ltc",
        "²",
        "٣",
        "9" * 5000,
        "1e999999",
        "-1",
        "0",
        " 5",
        "5\n",
        "\x00",
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59-14:00",
        "http://127.0.0.1:9/x",
        str(2**63),
        "NaN",
        "true",
        "{}",
        "[]",
        "",
    ]
)
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), TEXT, TRICKY
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.one_of(TEXT, TRICKY), inner, max_size=4),
    max_leaves=20,
)
VALID = {
    "currency": "LTC",
    "amount": "1.5",
    "account": "acct",
    "metadata": {"description": "x"},
    "confirmations": 1,
    "underpayment_tolerance": "0.5",
    "expires_in": 600,
    "callback_url": "https://shop.example/hook",
    "redirect_url": "https://shop.example/thanks",
}


@st.composite
def create_bodies(draw):
    """A valid create request with one or two fields replaced by anything: each field's
    check is reached (a random value in an earlier field would stop it first)."""
    body = dict(VALID)
    for field in draw(st.lists(st.sampled_from(sorted(CREATE_FIELDS)), min_size=1, max_size=2, unique=True)):
        body[field] = draw(st.one_of(TRICKY, JSON))
    if "expires_at" in body:
        body.pop("expires_in", None)
    return body


CREATE = create_bodies()
RAW_NUMBERS = st.sampled_from(
    ["1e999999", "1e9999999999999999999", "-0", "1E-999999", "9" * 4000, "123456789012345678901234567890.123456789"]
)
RAW = st.one_of(
    CREATE.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=200),
    RAW_NUMBERS.map(lambda n: ('{"currency": "LTC", "amount": %s}' % n).encode()),
    st.tuples(st.sampled_from(sorted(CREATE_FIELDS)), RAW_NUMBERS).map(
        lambda kv: ('{"currency": "LTC", "amount": 1, "%s": %s}' % kv).encode()
    ),
    st.sampled_from([15, 16, 17, 31, 32, 33, 990, 1000, 2000, 3000]).map(
        lambda n: ('{"currency": "LTC", "amount": 1, "metadata": %s1%s}' % ('{"a":' * n, "}" * n)).encode()
    ),
)
BODIES = st.one_of(JSON.map(lambda v: json.dumps(v).encode()), RAW)
QUERY_NAMES = st.sampled_from(
    [
        "limit",
        "status",
        "currency",
        "cursor",
        "size",
        "border",
        "foreground",
        "background",
        "error_correction",
        "content",
        "v",
        "token",
    ]
)
QUERY = st.lists(
    st.tuples(st.one_of(QUERY_NAMES, TEXT.map(str)), st.one_of(st.binary(max_size=20), TRICKY)), max_size=5
).map(lambda pairs: "&".join("%s=%s" % (_quote(k), _quote(v)) for k, v in pairs))
PATH_VALUE = st.one_of(
    st.binary(min_size=1, max_size=80),
    TRICKY.filter(bool),
    st.sampled_from(["png", "svg", "checkout.js", "LTC", "transaction", "block", "1", "ab" * 32, "ab" * 32 + "\n"]),
)


def _quote(value):
    if isinstance(value, str):
        value = value.encode("utf-8", "surrogatepass")
    return urllib.parse.quote_from_bytes(value, safe="")


def _templates(app):
    """Every URI template of the app with its resource, from Falcon's router."""
    nodes, found = list(app._router._roots), []
    while nodes:
        node = nodes.pop()
        nodes.extend(node.children)
        if node.resource is not None:
            found.append(node.uri_template)
    return sorted(found)


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    client, runtime = fake_runtime(tmp_path_factory.mktemp("fuzz"))
    pid = post(client, {"currency": "LTC", "amount": "1", "metadata": {"description": "x"}}).json["payment"]["id"]
    yield client, pid
    runtime.close()


def test_the_fuzzer_knows_every_route(api):
    client, _ = api
    assert len(_templates(client.app)) >= 10


def _fill(template, values, pid):
    names = re.findall(r"{(\w+)}", template)
    path = template
    for name, value in zip(names, values):
        text = pid if value is None else _quote(value)
        path = re.sub(r"{%s}" % name, lambda _m, text=text: text, path, count=1)
    return path


def _check(resp, method, path):
    assert resp.status_code < 500, (method, path, resp.status_code, resp.text[:500])
    if method != "HEAD" and resp.headers.get("content-type", "").startswith("application/json"):
        body = json.loads(resp.content)
        if resp.status_code >= 400 and path.startswith("/api/v1/"):
            # Greenfield's shapes: {code, message}, or a 422's array of {path, message}.
            items = body if isinstance(body, list) else [body]
            assert items and all(i.get("message") for i in items) and (isinstance(body, list) or body["code"]), body
        elif resp.status_code >= 400:
            assert body["success"] is False and body["error"]["code"], body


@given(data=st.data(), method=st.sampled_from(["GET", "HEAD", "POST"]), query=QUERY)
@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
def test_no_route_answers_5xx_to_any_path_or_query(api, data, method, query):
    client, pid = api
    template = data.draw(st.sampled_from(_templates(client.app)))
    values = [data.draw(st.one_of(st.none(), PATH_VALUE)) for _ in re.findall(r"{(\w+)}", template)]
    path = _fill(template, values, pid)
    resp = client.simulate_request(method, path, query_string=query)
    _check(resp, method, path)


@given(data=st.data(), body=BODIES, query=QUERY, chunked=st.booleans(), create=st.booleans())
@settings(
    max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
def test_no_route_answers_5xx_to_any_body(api, data, body, query, chunked, create):
    client, pid = api
    # Half the cases go to the create route, where most of the checks are.
    template = "/payments" if create else data.draw(st.sampled_from(_templates(client.app)))
    path = _fill(template, [None] * template.count("{"), pid)
    if template == "/webhooks/test" and b"://" in body:
        body = b'{"url": "http://127.0.0.1:9/hook"}'  # a closed loopback port: no request leaves the machine
    headers = {
        "Content-Type": data.draw(
            st.sampled_from(
                [
                    "application/json",
                    "application/json; charset=utf-8",
                    "text/plain",
                    "application/x-www-form-urlencoded",
                ]
            )
        )
    }
    extras = {}
    if chunked:
        headers["Transfer-Encoding"] = "chunked"
        extras["CONTENT_LENGTH"] = ""
    resp = client.simulate_request("POST", path, body=body, headers=headers, query_string=query, extras=extras)
    _check(resp, "POST", path)


@given(body=CREATE)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_created_payment_is_always_readable_and_listed(api, body):
    """Whatever a create accepts, the payment, its checkout page and the list render."""
    client, _ = api
    resp = post(client, body)
    assert resp.status_code < 500, resp.text
    if resp.status_code != 201:
        assert resp.json["error"]["field"] in CREATE_FIELDS | {None}, resp.text
        return
    pid = resp.json["payment"]["id"]
    for path in ("/payments/%s" % pid, "/pay/%s" % pid, "/payments/%s/qrcode.svg" % pid):
        assert client.simulate_get(path).status_code == 200, path
    listed = client.simulate_get("/payments", params={"limit": 5})
    assert listed.status_code == 200 and pid in {p["id"] for p in listed.json["payments"]}
