"""Webhooks end to end: a real transientd, the regtest node and a real receiver on loopback."""

import json
import math
import time
from datetime import datetime

import pytest
from _daemon import wait_for
from _receiver import Receiver

from transient import webhooks

pytestmark = pytest.mark.regtest

SECRET = "e2e-secret"


def webhook_config(receiver, schedule='["1s", "1s", "1s", "1s", "1s", "1s"]', secret=SECRET):
    # The per-payment receivers of these tests are on loopback: allowed as an operator would.
    return '[webhook]\nurl = "%s"\n%sretry_schedule = %s\nallowed_networks = ["127.0.0.0/8", "::1/128"]\n' % (
        receiver.url,
        'secret = "%s"\n' % secret if secret else "",
        schedule,
    )


@pytest.fixture
def receiver():
    r = Receiver().start()
    yield r
    r.stop()


def bodies_for(receiver, pid, path="/hook"):
    """Verified bodies received for payment ``pid``, in arrival order."""
    out = []
    for req in receiver.received(path):
        body = webhooks.verify(req.body, req.headers["Transient-Signature"], SECRET)
        if body["payment_id"] == pid:
            out.append(body)
    return out


def summary(body):
    e = body["event"]
    extra = (e["data"]["from"], e["data"]["to"], e["data"]["cause"]) if e["type"] == "payment.status_changed" else ()
    return (e["sequence"], e["type"]) + extra


def test_the_payment_flow_sends_every_event_in_order_signed(start_daemon, regtest, receiver):
    d = start_daemon(extra=webhook_config(receiver))
    p = d.create(currency="LTC", amount="0.25", metadata={"order": 7})
    regtest.pay(p["payment_address"], "0.25")
    d.wait_status(p["id"], "PENDING")
    regtest.mine(1)
    d.wait_status(p["id"], "PAID")
    regtest.reorg(1)  # the paying block is disconnected: the coins go back to the mempool
    d.wait_status(p["id"], "PENDING")
    regtest.mine(1)
    d.wait_status(p["id"], "PAID")
    want = [
        (1, "payment.created"),
        (2, "payment.received"),
        (3, "payment.status_changed", "UNPAID", "PENDING", "received"),
        (4, "payment.confirmed"),
        (5, "payment.status_changed", "PENDING", "PAID", "confirmed"),
        (6, "payment.reverted"),
        (7, "payment.status_changed", "PAID", "PENDING", "reorg"),
        (8, "payment.confirmed"),
        (9, "payment.status_changed", "PENDING", "PAID", "confirmed"),
    ]
    got = wait_for(lambda: len(bodies_for(receiver, p["id"])) >= 9 and bodies_for(receiver, p["id"]))
    assert [summary(b) for b in got] == want
    for body in got:
        assert list(body)[:2] == ["payment_id", "status"] and body["payment"]["id"] == p["id"]
        assert body["status"] == body["payment"]["status"]
        if body["event"]["type"] == "payment.status_changed":
            assert body["status"] == body["event"]["data"]["to"]
    received, reverted = got[1]["event"]["data"], got[5]["event"]["data"]
    assert received["amount"] == "0.25" and received["txid"] == reverted["txid"]
    assert reverted["cause"] == "reorg"
    assert got[-1]["payment"]["metadata"] == {"order": 7} and got[-1]["payment"]["paid"] is True

    # The log behind it: every event delivered once, at the first attempt.
    def recorded():
        events = d.get("/payments/%s/events" % p["id"]).json()["events"]
        return all(e["deliveries"][0]["state"] != "pending" for e in events) and events

    events = wait_for(recorded)
    assert [e["sequence"] for e in events] == list(range(1, 10))
    assert all(
        len(e["deliveries"]) == 1
        and e["deliveries"][0]["state"] == "delivered"
        and [a["status_code"] for a in e["deliveries"][0]["log"]] == [200]
        for e in events
    )
    assert "webhook payment.created" in d.log()


def test_a_receiver_down_across_a_daemon_restart_gets_everything_after(start_daemon, regtest, receiver):
    receiver.stop()
    patient = webhook_config(receiver, schedule="[%s]" % ", ".join(['"2s"'] * 30))
    d = start_daemon(extra=patient)
    p = d.create(currency="LTC", amount="0.1")
    regtest.pay(p["payment_address"], "0.1")
    d.wait_status(p["id"], "PENDING")

    def retried():
        events = d.get("/payments/%s/events" % p["id"]).json()["events"]
        return len(events) == 3 and events[0]["deliveries"][0]["attempts"] >= 2 and events

    events = wait_for(retried)
    assert "Connection" in events[0]["deliveries"][0]["log"][0]["error"]
    # The later events wait behind the first: a receiver gets a payment's events in order.
    assert [e["deliveries"][0]["attempts"] for e in events[1:]] == [0, 0]
    assert d.stop() == 0
    receiver.start()
    d2 = start_daemon(extra=patient)
    got = wait_for(lambda: len(bodies_for(receiver, p["id"])) >= 3 and bodies_for(receiver, p["id"]))
    assert [summary(b)[:2] for b in got] == [
        (1, "payment.created"),
        (2, "payment.received"),
        (3, "payment.status_changed"),
    ]
    assert len(receiver.received()) == 3  # each once
    wait_for(
        lambda: all(
            e["deliveries"][0]["state"] == "delivered" for e in d2.get("/payments/%s/events" % p["id"]).json()["events"]
        )
    )


def test_callback_url_redelivery_and_test_ping(start_daemon, regtest, receiver):
    d = start_daemon(extra=webhook_config(receiver))
    own = receiver.url.replace("/hook", "/own")
    p = d.create(currency="LTC", amount="0.1", callback_url=own)
    wait_for(lambda: receiver.received("/hook") and receiver.received("/own"))
    (global_,) = receiver.received("/hook")
    (mine,) = receiver.received("/own")
    assert global_.body == mine.body and json.loads(mine.body)["payment"]["callback_url"] == own
    (event,) = d.get("/payments/%s/events" % p["id"]).json()["events"]
    assert {x["url"] for x in event["deliveries"]} == {receiver.url, own}
    first = next(x for x in event["deliveries"] if x["url"] == own)
    resp = d.post("/deliveries/%d/redeliver" % first["id"])
    assert resp.status_code == 202 and resp.json()["delivery"]["redelivery_of"] == first["id"]
    again = wait_for(lambda: len(receiver.received("/own")) == 2 and receiver.received("/own")[1])
    assert again.body == mine.body and again.headers["Transient-Redelivery-Of"] == str(first["id"])
    assert d.post("/deliveries/999999/redeliver").status_code == 404
    assert d.post("/deliveries/abc/redeliver").status_code == 404
    ping = d.post("/webhooks/test")
    assert ping.status_code == 200 and ping.json()["success"] is True and ping.json()["status_code"] == 200
    pinged = receiver.received("/hook")[-1]
    assert webhooks.verify(pinged.body, pinged.headers["Transient-Signature"], SECRET)["event"]["type"] == "ping"
    bad = d.post("/webhooks/test", json={"url": "ftp://x"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "url"


def test_funds_after_expiry_send_payment_late(start_daemon, regtest, receiver):
    d = start_daemon(extra=webhook_config(receiver))
    p = d.create(currency="LTC", amount="0.1", expires_in=1)
    d.wait_status(p["id"], "EXPIRED")
    # The node dates a transaction in whole seconds (truncated): one sent within the second
    # of the expiry would count as paid in time. Pay once that second is over.
    due = math.ceil(datetime.fromisoformat(p["expires_at"].replace("Z", "+00:00")).timestamp())
    wait_for(lambda: time.time() >= due, timeout=5, interval=0.05)
    regtest.pay(p["payment_address"], "0.1")
    got = wait_for(lambda: len(bodies_for(receiver, p["id"])) >= 4 and bodies_for(receiver, p["id"]))
    assert [summary(b)[:2] for b in got] == [
        (1, "payment.created"),
        (2, "payment.status_changed"),
        (3, "payment.received"),
        (4, "payment.late"),
    ]
    assert got[1]["event"]["data"] == {"from": "UNPAID", "to": "EXPIRED", "cause": "expiry"}
    assert got[3]["event"]["data"]["amount"] == "0.1" and got[3]["payment"]["paid_late"] is True


def test_two_workers_deliver_each_event_once(start_daemon, regtest, receiver):
    receiver.script(*[(200, 0.05)] * 100)  # a receiver slow enough for both workers to take part
    d = start_daemon(workers=2, extra=webhook_config(receiver))
    pays = [d.create(currency="LTC", amount="0.01") for _ in range(12)]
    regtest.sendmany({p["payment_address"]: "0.01" for p in pays})
    for p in pays:
        d.wait_status(p["id"], "PENDING")
    wait_for(lambda: len(receiver.received()) >= 36, timeout=30)
    ids = [r.event_id for r in receiver.received()]
    assert len(ids) == len(set(ids)) == 36
    for p in pays:
        assert [b["event"]["sequence"] for b in bodies_for(receiver, p["id"])] == [1, 2, 3]


def test_without_a_secret_webhooks_are_unsigned_and_the_daemon_warns(start_daemon, receiver):
    d = start_daemon(extra=webhook_config(receiver, secret=None))
    assert "webhook.secret is not set" in d.log()
    p = d.create(currency="LTC", amount="0.1")
    (req,) = wait_for(lambda: receiver.received())
    assert "Transient-Signature" not in req.headers and req.json["payment_id"] == p["id"]
