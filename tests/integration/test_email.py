"""E-mail to the customer through a real SMTP server on loopback (aiosmtpd: STARTTLS with
a certificate made for the test, a login) from a runtime on the litecoind regtest node:
a payment's messages arrive once each, in order, in the customer's language; the server
down for a while, then back (nothing lost); a 5xx refusal (given up at once, in the
delivery log, redelivered by hand). tests/e2e/test_email_crash.py kills the daemon
between a send and its record."""

import datetime
import json
import time

import pytest
from _api import node_client, post
from _smtp import PASSWORD, SmtpServer

from transient.store.models import ChainState, Delivery, DeliveryAttempt
from transient.store.payouts import Payout

pytestmark = pytest.mark.regtest


@pytest.fixture
def smtp(tmp_path):
    server = SmtpServer(tmp_path).start()
    yield server
    server.stop()


def _config(smtp, more=""):
    return """
[server]
public_url = "https://shop.example.org"
[email]
smtp_url = "%s"
sender = "shop@example.org"
merchant = ["ops@example.org"]
ca_file = "%s"
retry_schedule = ["1s", "1s", "1s", "1s", "1s"]
%s""" % (smtp.url, smtp.cert, more)


@pytest.fixture
def shop(tmp_path, regtest, merchant_wallet, smtp):
    client, runtime = node_client(tmp_path, regtest, merchant_wallet, extra=_config(smtp))
    yield client, runtime, regtest
    runtime.close()


def _drain(runtime, rounds=10):
    """Run the mail dispatcher until nothing is due (each round sends what it may)."""
    sent = []
    for _ in range(rounds):
        outcomes = runtime.mail_dispatcher.run_once()
        if not outcomes:
            break
        sent += outcomes
    return sent


def _pay(regtest, runtime, address, amount):
    regtest.pay(address, amount)
    regtest.mine(1)
    runtime.syncers["LTC"].run()


def _parts(message):
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    return text, html


def test_a_payments_messages_arrive_once_each_in_order_in_the_customers_language(shop, smtp):
    client, runtime, regtest = shop
    body = {"currency": "LTC", "amount": "1", "email": "kunde@example.org", "metadata": {"language": "de-AT"}}
    p = post(client, dict(body, metadata={"language": "de", "order_id": "A-7"})).json["payment"]
    assert p["email"] == "kunde@example.org"
    _pay(regtest, runtime, p["payment_address"], "0.4")
    _pay(regtest, runtime, p["payment_address"], "0.6")
    _drain(runtime)
    got = smtp.inbox.wait(2)
    time.sleep(0.5)
    assert len(smtp.inbox.messages) == 2  # once each
    (to1, under), (to2, paid) = got
    assert to1 == to2 == "kunde@example.org"
    assert under["Subject"] == "Zahlung unvollständig: 0,6 LTC noch offen"
    assert paid["Subject"] == "Zahlung erhalten: 1 LTC"
    assert under["From"] == "shop@example.org" and under["Auto-Submitted"] == "auto-generated"
    assert under["Message-ID"] != paid["Message-ID"]
    text, html = _parts(under)
    assert "Wir haben 0,4 LTC erhalten, aber 0,6 LTC sind noch offen." in text
    assert "https://shop.example.org/pay/%s" % p["id"] in text and 'href="https://shop.example.org/pay/' in html
    assert "Bestellung: A-7" in text and "<img" not in html and "<script" not in html
    text, _ = _parts(paid)
    assert "Vielen Dank" in text and p["id"] in text
    states = [(d.url, d.state) for d in Delivery.select().where(Delivery.url.startswith("mailto:"))]
    assert states == [("mailto:kunde@example.org", "delivered")] * 2


def test_the_server_down_for_a_while_then_back_loses_nothing(shop, smtp):
    client, runtime, regtest = shop
    smtp.stop()
    p = post(client, {"currency": "LTC", "amount": "0.5", "email": "buyer@example.org"}).json["payment"]
    _pay(regtest, runtime, p["payment_address"], "0.5")
    first = _drain(runtime)
    assert [o.ok for o in first] == [False] and "Connection refused" in first[0].error
    delivery = Delivery.get(Delivery.url == "mailto:buyer@example.org")
    assert delivery.state == "pending" and delivery.attempts == 1
    smtp.start()
    time.sleep(1.5)  # the first retry is 1 s (±20 %) away
    _drain(runtime)
    ((to, message),) = smtp.inbox.wait(1)
    assert to == "buyer@example.org" and message["Subject"] == "Payment received: 0.5 LTC"
    assert Delivery.get_by_id(delivery.id).state == "delivered"


def test_a_refusal_is_given_up_at_once_logged_and_redelivered_by_hand(shop, smtp):
    client, runtime, regtest = shop
    smtp.inbox.refuse.add("nobody@example.org")
    p = post(client, {"currency": "LTC", "amount": "0.25", "email": "nobody@example.org"}).json["payment"]
    _pay(regtest, runtime, p["payment_address"], "0.25")
    (outcome,) = _drain(runtime)
    assert not outcome.ok and "550" in outcome.error
    delivery = Delivery.get(Delivery.url == "mailto:nobody@example.org")
    assert delivery.state == "failed" and delivery.attempts == 1  # not retried: the server said no for good
    (attempt,) = DeliveryAttempt.select().where(DeliveryAttempt.delivery == delivery.id)
    assert "550" in attempt.error and "no such mailbox" in attempt.error
    log = client.simulate_get("/payments/%s/events" % p["id"]).text
    assert "mailto:nobody@example.org" in log and PASSWORD not in log
    smtp.inbox.refuse.clear()
    again = client.simulate_post("/deliveries/%d/redeliver" % delivery.id)
    assert again.status_code == 202
    _drain(runtime)
    ((_, message),) = smtp.inbox.wait(1)
    assert message["Subject"] == "Payment received: 0.25 LTC"
    original = json.dumps(delivery.body)
    assert message["Message-ID"] not in original  # a redelivery is a new message, with an id of its own


def test_an_address_with_a_line_break_is_refused_at_input(shop):
    client, _, _ = shop
    for bad in ("a@example.org\r\nBcc: all@example.org", "a@example.org\nX: y", "two@a.org, three@b.org", "no-at"):
        resp = post(client, {"currency": "LTC", "amount": "1", "email": bad})
        assert resp.status_code == 422 and resp.json["error"]["field"] == "email", bad
    assert not Delivery.select().where(Delivery.url.startswith("mailto:")).exists()


def test_the_merchant_hears_of_a_delivery_given_up_a_stalled_node_and_a_payout_to_approve_once_each(shop, smtp):
    client, runtime, regtest = shop
    smtp.inbox.refuse.add("gone@example.org")
    p = post(client, {"currency": "LTC", "amount": "0.2", "email": "gone@example.org"}).json["payment"]
    _pay(regtest, runtime, p["payment_address"], "0.2")
    _drain(runtime)  # the customer's e-mail is refused: given up
    failed = Delivery.get(Delivery.url == "mailto:gone@example.org")
    long_ago = datetime.datetime.utcnow() - datetime.timedelta(hours=2)
    stalled = {"last_error": "NodeUnreachable: connection refused", "last_error_at": long_ago, "last_sync_at": long_ago}
    ChainState.update(**stalled).execute()
    tip = ChainState.get().cursor_height
    ChainState.update(cursor_height=tip - 10).execute()  # as if the sync had stopped 10 blocks ago
    Payout.create(
        id="po_alert_1", currency="LTC", amount=1000, destination="rltc1qexample", state="awaiting_approval",
        created_at=long_ago, updated_at=long_ago,
    )  # fmt: skip
    alerts = runtime.alert_job.jobs[0]
    assert alerts.tick() == 4
    assert alerts.tick() == 0  # each once, however often it is looked at
    _drain(runtime)
    got = smtp.inbox.wait(4)
    subjects = sorted(m["Subject"] for to, m in got if to == "ops@example.org")
    assert subjects == [
        "[Transient] Delivery %d given up (payment.status_changed)" % failed.id,
        "[Transient] LTC: no good sync since %s" % (long_ago.isoformat(timespec="milliseconds") + "Z"),
        "[Transient] LTC: the sync is 10 blocks behind the node",
        "[Transient] Payout po_alert_1 awaits your approval",
    ]
    body, _ = _parts([m for to, m in got if "given up" in m["Subject"]][0])
    assert "an e-mail to a customer" in body and "550" in body and "POST /deliveries/%d/redeliver" % failed.id in body


def test_the_merchant_reads_an_alert_in_the_language_set(tmp_path, regtest, merchant_wallet, smtp):
    """[email] merchant_language = "de": a payout awaiting approval reaches the real SMTP
    server in German, text and HTML from the same template, the amount written the German way."""
    more = 'merchant_language = "de"\n'
    client, runtime = node_client(tmp_path, regtest, merchant_wallet, extra=_config(smtp, more))
    try:
        now = datetime.datetime.utcnow()
        Payout.create(
            id="po_de_1", currency="LTC", amount=1_234_500, destination="rltc1qbeispiel", state="awaiting_approval",
            created_at=now, updated_at=now,
        )  # fmt: skip
        assert runtime.alert_job.jobs[0].tick() >= 1
        _drain(runtime)
        got = smtp.inbox.wait(1)
        ((to, mail),) = [(to, m) for to, m in got if "po_de_1" in m["Subject"]]
        assert to == "ops@example.org" and mail["Content-Language"] == "de"
        assert mail["Subject"] == "[Transient] Auszahlung po_de_1 wartet auf Ihre Freigabe"
        text, html = _parts(mail)
        assert "Eine Auszahlung von 0,012345 LTC an rltc1qbeispiel wartet auf Ihre Freigabe." in text
        assert "Freigeben: transient payouts approve po_de_1" in text and "Eine Meldung Ihres Transient" in text
        assert '<html lang="de">' in html and "<p>Eine Auszahlung von 0,012345 LTC" in html
        assert "<img" not in html and "<script" not in html
    finally:
        runtime.close()


def test_a_refund_is_offered_by_its_claim_link_then_its_sending_is_told(tmp_path, regtest, smtp):
    wallet = regtest.create_wallet("refunds-shop")
    regtest.pay(regtest.rpc("getnewaddress", "", wallet=wallet), "5")  # what the refunds are paid from
    regtest.mine(1)
    extra = """
[server]
public_url = "https://shop.example.org"
[payouts]
fee_rate_cap = { LTC = "20" }
[email]
smtp_url = "%s"
sender = "shop@example.org"
ca_file = "%s"
""" % (smtp.url, smtp.cert)
    client, runtime = node_client(tmp_path, regtest, wallet, extra=extra)
    try:
        body = {"currency": "LTC", "amount": "1", "email": "back@example.org", "metadata": {"language": "fr"}}
        p = post(client, body).json["payment"]
        _pay(regtest, runtime, p["payment_address"], "1")
        refund = client.simulate_post(
            "/payments/%s/refund" % p["id"],
            body=json.dumps({"variant": "Custom", "amount": "0.3"}),
            headers={"Content-Type": "application/json"},
        )
        assert refund.status_code == 201, refund.text
        claims = runtime.alert_job.jobs[1]
        assert claims.tick() == 1 and claims.tick() == 0  # the link once
        _drain(runtime)
        smtp.inbox.wait(2)
        pull_id = refund.json["pull_payment"]["id"]
        payout = runtime.payouts.claim(pull_id, regtest.rpc("getnewaddress", "", wallet="payer"))
        runtime.payouts.approve(payout.id)
        runtime.payout_runner.round()
        _drain(runtime)
        got = smtp.inbox.wait(3)
        subjects = [m["Subject"] for to, m in got if to == "back@example.org"]
        assert subjects == ["Paiement reçu : 1 LTC", "Votre remboursement de 0,3 LTC", "Remboursement envoyé : 0,3 LTC"]
        claim_text, claim_html = _parts(got[1][1])
        assert "https://shop.example.org/claim/%s" % pull_id in claim_text and "/claim/%s" % pull_id in claim_html
        txid = Payout.get_by_id(payout.id).txid
        assert txid and txid in _parts(got[2][1])[0]
    finally:
        runtime.close()
