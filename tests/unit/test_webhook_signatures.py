"""Webhook signatures: what receivers verify with ``transient.webhooks`` (the deliveries
that carry them: tests/integration/test_webhooks.py)."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transient import webhooks

SECRET = "whsec_test"


# -- signatures ------------------------------------------------------------------


def test_verify_accepts_a_good_signature_and_returns_the_body():
    body = b'{"payment_id":"p","status":"PAID","amount":"0.1"}'
    header = webhooks.sign(SECRET, body, timestamp=1_700_000_000)
    assert header.startswith("t=1700000000,v1=")
    assert webhooks.verify(body, header, SECRET, now=1_700_000_100) == json.loads(body)
    # While rotating, either secret verifies; a header may carry several signatures.
    assert webhooks.verify(body, header, ["old", SECRET], now=1_700_000_000)
    both = header + ",v1=" + webhooks.signature("other", 1_700_000_000, body)
    assert webhooks.verify(body, both, "other", now=1_700_000_000)


@pytest.mark.parametrize("case", ["tampered", "wrong-secret", "stale", "future", "missing", "garbage", "no-v1"])
def test_verify_rejects(case):
    body = b'{"status":"PAID"}'
    header = webhooks.sign(SECRET, body, timestamp=1_700_000_000)
    now, secret = 1_700_000_010, SECRET
    if case == "tampered":
        body = b'{"status":"PAID "}'
    elif case == "wrong-secret":
        secret = "not-it"
    elif case == "stale":
        now = 1_700_000_000 + webhooks.TOLERANCE + 1
    elif case == "future":
        now = 1_700_000_000 - webhooks.TOLERANCE - 1
    elif case == "missing":
        header = None
    elif case == "garbage":
        header = "sha256=abc"
    elif case == "no-v1":
        header = "t=1700000000"
    with pytest.raises(webhooks.SignatureError):
        webhooks.verify(body, header, secret, now=now)


# -- malformed headers: always the documented SignatureError (issue 14, finding 10) ---

BODY = b'{"status":"PAID"}'
GOOD = webhooks.sign(SECRET, BODY, timestamp=1_700_000_000)


@pytest.mark.parametrize(
    "header",
    [
        "t=²,v1=aa",
        "t=٣,v1=aa",
        "t=1700000000,v1=é",
        "t=1700000000,v1=\udfff",
        "t=%s,v1=aa" % ("9" * 5000),
        "t=1700000000\n,v1=aa",
        "t=-5,v1=aa",
        "t=1e9,v1=aa",
        b"t=1700000000,v1=aa",
        b"\xff\xfe",
        12345,
        ["t=1"],
        GOOD.replace("v1=", "v1=\x00"),
        GOOD + "\n",
        "t=" + "1" * 40 + ",v1=" + "a" * 64,
    ],
)
def test_every_malformed_header_raises_signature_error(header):
    with pytest.raises(webhooks.SignatureError):
        webhooks.verify(BODY, header, SECRET, now=1_700_000_010)


def test_a_bytes_header_that_is_right_verifies():
    assert webhooks.verify(BODY, GOOD.encode(), SECRET, now=1_700_000_010) == json.loads(BODY)


@given(
    st.one_of(
        st.text(),
        st.binary(),
        st.integers(),
        st.none(),
        st.builds(lambda t, v: "t=%s,v1=%s" % (t, v), st.text(), st.text()),
    )
)
@settings(max_examples=300, deadline=None)
def test_verify_raises_only_signature_error_for_any_header(header):
    try:
        webhooks.verify(BODY, header, SECRET, now=1_700_000_010)
    except webhooks.SignatureError:
        pass
