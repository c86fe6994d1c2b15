"""The AMQP API against the machine's RabbitMQ: events from the outbox with publisher
confirms and broker outages in process, then a real transientd with the regtest node
(the events of a payment, a broker restart, a worker killed before its reply).
The command queue in process is in test_amqp_commands.py."""
import json
import uuid

import pytest

from _broker import URL, Client, broker, client, names, rabbitmqctl, wait_reachable  # noqa: F401  (fixtures)
from _daemon import wait_for
from _outbox import OutboxHarness, settled
from transient.amqp import link as amqp
from transient import settings
from transient.amqp.publisher import CONFIRMED, Publisher
from transient.delivery.admin import event_log
from transient.devnet.node import find_free_port
from transient.core.errors import ConfigError
from transient.store.models import Delivery, DeliveryAttempt, Payment
from transient.core.redact import redact
from transient.runtime import Runtime

SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


# -- configuration -------------------------------------------------------------------

def load(tmp_path, text):
    path = tmp_path / "config.toml"
    path.write_text(text)
    return settings.load(str(path), environ={})


def test_off_unless_a_url_is_set_and_the_target_holds_no_password(tmp_path):
    db = "[database]\nurl = \"sqlite:///%s\"\n" % (tmp_path / "t.db")
    runtime = Runtime(load(tmp_path, db))
    assert runtime.amqp is None and runtime.outbox.extra_targets == ()
    runtime.close()
    config = load(tmp_path, db + '[amqp]\nurl = "amqp://shop:s3cret@127.0.0.1:5672/%2F"\nrpc_queue = ""\n')
    runtime = Runtime(config)
    bridge = runtime.amqp
    assert runtime.outbox.extra_targets == ("amqp:transient.events",) == (bridge.target,)
    assert bridge.publisher.wake in runtime.outbox.listeners
    assert bridge.queue is None and bridge.consumer is None  # an empty rpc_queue turns the commands off
    assert redact(config["amqp.url"]) == "amqp://shop:***@127.0.0.1:5672/%2F"
    assert "s3cret" not in json.dumps(bridge.report(), default=str)
    runtime.close()


@pytest.mark.parametrize("text, key", [
    ('[amqp]\nurl = "http://127.0.0.1:5672/"\n', "amqp.url"),
    ('[amqp]\nexchange = "amq.topic"\n', "amqp.exchange"),
    ('[amqp]\nrpc_queue = "bad name"\n', "amqp.rpc_queue"),
    ('[amqp]\nretry_schedule = []\n', "amqp.retry_schedule"),
])
def test_bad_settings_name_the_key(tmp_path, text, key):
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    assert key in str(info.value)


# -- events: the publisher on the outbox ------------------------------------------------

class Harness(OutboxHarness):
    """An outbox whose only target is the test's exchange, and publishers draining it."""

    def __init__(self, db, names):
        super().__init__(db, extra_targets=[amqp.target(names.exchange)])
        self.publishers = []

    def publisher(self, url=URL, schedule=(0.05,), **kw):
        p = Publisher(self.db, amqp.parameters(url, "test"), list(schedule), **kw).start()
        self.publishers.append(p)
        self.listeners.append(p.wake)
        return p

    def close(self):
        for p in self.publishers:
            p.stop()


@pytest.fixture
def hub(db, names):
    h = Harness(db, names)
    yield h
    h.close()


def test_events_are_published_with_confirms_routing_keys_and_the_webhook_body(hub, client, names):
    client.bind_all(names)
    ltc, doge = hub.payment("LTC"), hub.payment("DOGE")
    ltc_events = hub.emit(ltc, "payment.created", "payment.received", "payment.status_changed")
    doge_events = hub.emit(doge, "payment.created")
    hub.publisher()
    rows = settled(4)
    got = client.take(names.events_queue, 4)
    assert all(r.state == Delivery.DELIVERED and r.url == "amqp:" + names.exchange for r in rows)
    by_id = {str(r.id): r for r in rows}
    keys = [(m.routing_key, json.loads(b)["event"]["sequence"]) for m, p, b in got
            if json.loads(b)["payment_id"] == str(ltc.id)]
    # Per payment in order, one event after another.
    assert keys == [("payment.LTC.created", 1), ("payment.LTC.received", 2), ("payment.LTC.status_changed", 3)]
    assert [m.routing_key for m, p, b in got if m.routing_key.startswith("payment.DOGE")] == ["payment.DOGE.created"]
    events = {str(e.event_id): e for e in ltc_events + doge_events}
    for method, props, body in got:
        delivery = by_id[str(props.headers["Transient-Delivery-Id"])]
        assert body == delivery.body.encode()  # exactly the webhook body
        assert props.message_id in events and props.message_id == json.loads(body)["event"]["id"]
        assert props.delivery_mode == 2 and props.content_type == "application/json"
        assert props.type == events[props.message_id].type == props.headers["Transient-Event-Type"]
    attempts = list(DeliveryAttempt.select())
    assert len(attempts) == 4 and {a.response for a in attempts} == {CONFIRMED}
    (first, *_) = event_log(Payment.get_by_id(ltc.id), hub.renderer)
    assert first["deliveries"][0]["url"] == "amqp:" + names.exchange and first["deliveries"][0]["state"] == "delivered"


def test_an_unreachable_broker_loses_nothing_and_claims_nothing(hub, client, names):
    client.bind_all(names)
    p = hub.payment()
    hub.emit(p, "payment.created", "payment.received")
    down = hub.publisher(url="amqp://guest:guest@127.0.0.1:%d/" % find_free_port())
    wait_for(lambda: down.link.report()["state"] == "disconnected")
    hub.emit(p, "payment.status_changed")
    report = down.link.report()
    assert "Connect" in report["last_error"] and report["connects"] == 0
    rows = list(Delivery.select().order_by(Delivery.id))
    # Nothing was taken or tried while the broker was away: the rows just wait.
    assert [(r.state, r.attempts, r.lease_holder) for r in rows] == [(Delivery.PENDING, 0, None)] * 3
    down.stop()
    assert down.link.report()["state"] == "stopped"
    hub.publisher()
    settled(3)
    got = client.take(names.events_queue, 3)
    assert [json.loads(b)["event"]["sequence"] for m, p, b in got] == [1, 2, 3]


def test_refused_publishes_are_retried_until_the_broker_takes_them(hub, client, names):
    """A full queue with overflow=reject-publish makes the broker nack: a real refusal."""
    client.channel.exchange_declare(names.exchange, "topic", durable=True)
    client.channel.queue_declare(names.events_queue, durable=True,
                                 arguments={"x-max-length": 1, "x-overflow": "reject-publish"})
    client.channel.queue_bind(names.events_queue, names.exchange, "#")
    payments = [hub.payment() for _ in range(3)]
    for p in payments:
        hub.emit(p, "payment.created")
    hub.publisher(schedule=[0.05])  # one wait, repeated: an AMQP delivery never fails for good
    # The queue holds one message: the other two are refused at every try, past the schedule's end.
    wait_for(lambda: Delivery.select().where(Delivery.attempts >= 3).count() == 2)
    assert Delivery.select().where(Delivery.state == Delivery.FAILED).count() == 0
    got = []
    while len(got) < 3:
        got += client.take(names.events_queue, 1)  # makes room for the next retry
    rows = settled(3)
    assert {json.loads(b)["payment_id"] for m, p, b in got} == {str(p.id) for p in payments}
    assert all(r.state == Delivery.DELIVERED for r in rows)
    retried = [r for r in rows if r.attempts > 1]
    assert len(retried) >= 2 and len(retried[0].log) == retried[0].attempts  # one log row per attempt
    first = DeliveryAttempt.get((DeliveryAttempt.delivery == retried[0].id) & (DeliveryAttempt.number == 1))
    assert "nack" in first.error and first.retry_at is not None


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
    status, created, _ = client.call(names.rpc_queue, "payments.create", {"currency": "LTC", "amount": "0.25"},
                                     message_id=uuid.uuid4().hex, timeout=30)
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
    events = wait_for(lambda: all(e["deliveries"][0]["state"] == "delivered" for e in _events(d, p))
                      and _events(d, p))
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
def test_a_broker_restart_in_the_middle_loses_no_event(names, start_daemon, regtest, client):
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
        assert [summary(m) for m in got] == [("payment.LTC.received", 2, "PENDING"),
                                             ("payment.LTC.status_changed", 3, "PENDING")]
        status, reply, _ = again.call(names.rpc_queue, "payments.get", {"id": p["id"]}, timeout=60)
        assert status == 200 and reply["payment"]["status"] == "PENDING"
        amqp_health = d.get("/healthz").json()["amqp"]
        assert amqp_health["publisher"]["connects"] >= 2 and amqp_health["commands"]["connects"] >= 2
    finally:
        again.close()


def _amqp_down(d):
    health = d.get("/healthz").json()
    amqp_ = health["amqp"]
    return (amqp_["publisher"]["state"] == amqp_["commands"]["state"] == "disconnected"
            and amqp_["events_waiting"] == 2 and health)


@pytest.mark.regtest
@SQLITE_ONLY
def test_a_create_whose_worker_died_before_the_reply_is_not_done_twice(names, start_daemon, client):
    """The worker is killed after creating, before replying: the broker delivers the
    command again (to the worker gunicorn starts next), which answers with the same payment."""
    client.bind_all(names)
    d = amqp_ready(start_daemon(extra=names.config(), env={"TRANSIENT_FAULTS": "amqp.before_reply"}))
    body = {"currency": "LTC", "amount": "0.3", "account": "crash-test"}
    status, reply, props = client.call(names.rpc_queue, "payments.create", body, message_id="cmd-" + uuid.uuid4().hex,
                                       timeout=60)
    assert status == 200 and props.headers["Idempotent-Replayed"] is True
    listed = d.get("/payments").json()["payments"]
    assert [p["id"] for p in listed] == [reply["payment"]["id"]]
