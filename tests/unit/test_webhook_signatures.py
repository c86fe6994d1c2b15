"""Webhook signatures: what receivers verify with ``transient.webhooks`` (the deliveries
that carry them: tests/integration/test_webhooks.py)."""
import json

import pytest

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
