"""The AMQP API with a real transientd, the regtest node and the machine's RabbitMQ: the
events and commands of a payment, a broker restart in the middle, a worker killed
before its reply (in process: tests/integration/test_amqp.py)."""

import json
import uuid

import pytest
from _broker import URL, Client, broker, broker_alone, broker_shared, client, names, rabbitmqctl, wait_reachable  # noqa: F401  (fixtures)
from _daemon import wait_for

SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


# -- the daemon: the regtest flow, a broker restart, a crash before the reply ------------


@pytest.fixture
def broker_user(broker):
    """A broker user with a password of its own, so the test can look for it in the log."""
    user, password = "transient-test-%s" % uuid.uuid4().hex[:6], "pw-%s" % uuid.uuid4().hex
    rabbitmqctl("add_user", user, password)
    try:
        rabbitmqctl("set_permissions", "-p", "/", user, ".*", ".*", ".*")
        yield "amqp://%s:%s@127.0.0.1:5672/" % (user, password), password
    finally:
        rabbitmqctl("delete_user", user)


def amqp_ready(d):
    """Wait until the daemon's worker has declared its command queue (a command sent
    before that would be dropped by the broker: no queue, no route)."""
    wait_for(lambda: d.get("/healthz").json()["amqp"]["commands"]["state"] == "connected")
    return d


def summary(message):
    method, props, body = message
    body = json.loads(body)
    return method.routing_key, body["event"]["sequence"], body["status"]


@pytest.mark.regtest
@SQLITE_ONLY
def test_the_regtest_flow_over_amqp(names, broker_user, start_daemon, regtest, client):
    url, password = broker_user
    client.bind_all(names)
    d = amqp_ready(start_daemon(extra=names.config(url)))
    status, created, _ = client.call(
        names.rpc_queue,
        "payments.create",
        {"currency": "LTC", "amount": "0.25"},
        message_id=uuid.uuid4().hex,
        timeout=30,
    )
    assert status == 201
    p = created["payment"]
    regtest.pay(p["payment_address"], "0.25")
    d.wait_status(p["id"], "PENDING")
    regtest.mine(1)
    d.wait_status(p["id"], "PAID")
    got = client.take(names.events_queue, 5)
    assert [summary(m) for m in got] == [
        ("payment.LTC.created", 1, "UNPAID"),
        ("payment.LTC.received", 2, "PENDING"),
        ("payment.LTC.status_changed", 3, "PENDING"),
        ("payment.LTC.confirmed", 4, "PAID"),
        ("payment.LTC.status_changed", 5, "PAID"),
    ]
    assert all(json.loads(b)["payment_id"] == p["id"] for m, pr, b in got)
    assert client.call(names.rpc_queue, "payments.get", {"id": p["id"]})[1]["payment"] == d.payment(p["id"])
    events = wait_for(lambda: all(e["deliveries"][0]["state"] == "delivered" for e in _events(d, p)) and _events(d, p))
    assert [e["deliveries"][0]["url"] for e in events] == ["amqp:" + names.exchange] * 5
    health = d.get("/healthz").json()["amqp"]
    assert health["publisher"]["state"] == "connected" and health["events_waiting"] == 0
    log = d.log()
    assert "amqp: events to exchange %s" % names.exchange in log and ":***@127.0.0.1" in log
    assert password not in log


def _events(d, p):
    return d.get("/payments/%s/events" % p["id"]).json()["events"]


@pytest.mark.regtest
@SQLITE_ONLY
def test_a_broker_restart_in_the_middle_loses_no_event(broker_alone, names, start_daemon, regtest, client):
    client.bind_all(names)
    d = amqp_ready(start_daemon(extra=names.config()))
    p = d.create(currency="LTC", amount="0.1")
    assert summary(client.take(names.events_queue, 1)[0]) == ("payment.LTC.created", 1, "UNPAID")
    client.close()
    try:
        rabbitmqctl("stop_app")
        regtest.pay(p["payment_address"], "0.1")
        d.wait_status(p["id"], "PENDING")  # the HTTP API and the sync go on without the broker
        health = wait_for(lambda: _amqp_down(d))
        assert d.get("/healthz").status_code == 200 and health["ok"] is True
        assert health["amqp"]["publisher"]["last_error"] and health["amqp"]["events_waiting"] == 2
    finally:
        rabbitmqctl("start_app")
        wait_reachable()
    again = Client()
    try:
        got = again.take(names.events_queue, 2, timeout=60)
        assert [summary(m) for m in got] == [
            ("payment.LTC.received", 2, "PENDING"),
            ("payment.LTC.status_changed", 3, "PENDING"),
        ]
        status, reply, _ = again.call(names.rpc_queue, "payments.get", {"id": p["id"]}, timeout=60)
        assert status == 200 and reply["payment"]["status"] == "PENDING"
        amqp_health = d.get("/healthz").json()["amqp"]
        assert amqp_health["publisher"]["connects"] >= 2 and amqp_health["commands"]["connects"] >= 2
    finally:
        again.close()


def _amqp_down(d):
    health = d.get("/healthz").json()
    amqp_ = health["amqp"]
    return (
        amqp_["publisher"]["state"] == amqp_["commands"]["state"] == "disconnected"
        and amqp_["events_waiting"] == 2
        and health
    )


@pytest.mark.regtest
@SQLITE_ONLY
def test_a_create_whose_worker_died_before_the_reply_is_not_done_twice(names, start_daemon, client):
    """The worker is killed after creating, before replying: the broker delivers the
    command again (to the worker gunicorn starts next), which answers with the same payment."""
    client.bind_all(names)
    d = amqp_ready(start_daemon(extra=names.config(), env={"TRANSIENT_FAULTS": "amqp.before_reply"}))
    body = {"currency": "LTC", "amount": "0.3", "account": "crash-test"}
    status, reply, props = client.call(
        names.rpc_queue, "payments.create", body, message_id="cmd-" + uuid.uuid4().hex, timeout=60
    )
    assert status == 200 and props.headers["Idempotent-Replayed"] is True
    listed = d.get("/payments").json()["payments"]
    assert [p["id"] for p in listed] == [reply["payment"]["id"]]
