"""The AMQP commands in process, on a started Runtime (SQLite, the FakeBackend): the
answers are the HTTP API's, for the same requests, through the same service.

Its own module: the started runtime's threads use the models' database proxy, which
the database fixtures of other tests would point elsewhere while it runs."""

import json
import uuid

import pytest
from _broker import URL, Client, Names, broker, broker_lock, broker_shared, client, names  # noqa: F401  (fixtures)
from _daemon import wait_for
from fakes import fake_coin_config, fake_plugin_manager
from falcon import testing

from transient import settings
from transient.amqp import link as amqp
from transient.amqp.commands import CommandConsumer
from transient.core.keys import KeyRing
from transient.core.redact import redact
from transient.runtime import Runtime
from transient.store import migrations


@pytest.fixture(scope="module")
def amqp_runtime(tmp_path_factory, broker):
    """A started Runtime (SQLite, the FakeBackend) with AMQP on, its Falcon test client and names."""
    with broker_lock.hold():  # for the module: its runtime stays connected between tests
        yield from _amqp_runtime(tmp_path_factory)


def _amqp_runtime(tmp_path_factory):
    names = Names()
    tmp = tmp_path_factory.mktemp("amqp")
    path = tmp / "config.toml"
    path.write_text('[database]\nurl = "sqlite:///%s"\n%s\n%s' % (tmp / "amqp.db", names.config(), fake_coin_config()))
    runtime = Runtime(settings.load(str(path), environ={}), pm=fake_plugin_manager())
    migrations.apply(runtime.db)
    setup = Client()
    setup.bind_all(names)
    setup.close()
    runtime.start()
    wait_for(lambda: runtime.amqp.consumer_link.report()["state"] == "connected")
    yield runtime, testing.TestClient(runtime.app()), names
    runtime.close()
    cleanup = Client()
    cleanup.delete(names)
    cleanup.close()


def http_post(api, raw, key=None):
    return api.simulate_post(
        "/payments", body=raw, headers={"Content-Type": "application/json", **({"Idempotency-Key": key} if key else {})}
    )


@pytest.mark.parametrize(
    "raw",
    [
        '{"currency": "LTC"}',
        '{"currency": "XYZ", "amount": 1}',
        '{"currency": "LTC", "amount": "0.123456789"}',
        '{"currency": "LTC", "amount": -1}',
        '{"currency": "LTC", "amount": 1, "colour": "red"}',
        '{"currency": "LTC", "amount": 1, "expires_in": 0}',
        '{"currency": "LTC", "amount": 1, "callback_url": "ftp://x"}',
        '{"currency": "LTC", "amount": NaN}',
        "[1, 2]",
        '{"currency": ',
    ],
)
def test_create_errors_are_the_http_errors(amqp_runtime, client, raw):
    runtime, api, names = amqp_runtime
    http = http_post(api, raw)
    status, body, _ = client.call(names.rpc_queue, "payments.create", raw.encode(), message_id=uuid.uuid4().hex)
    assert http.status_code >= 400 and (status, body) == (http.status_code, http.json)


def test_create_get_list_over_amqp_are_the_http_answers(amqp_runtime, client):
    runtime, api, names = amqp_runtime
    body = {"currency": "ltc", "amount": "0.5", "metadata": {"order": 42}}
    key = "order-42-" + uuid.uuid4().hex[:6]
    status, created, props = client.call(names.rpc_queue, "payments.create", body, message_id=key)
    assert status == 201 and created["success"] is True
    payment = created["payment"]
    assert (payment["currency"], payment["amount"], payment["status"]) == ("LTC", "0.5", "UNPAID")
    assert api.simulate_get("/payments/%s" % payment["id"]).json == created
    assert client.call(names.rpc_queue, "payments.get", {"id": payment["id"]})[:2] == (200, created)
    # The message id was the idempotency key: again, and over HTTP, the same payment.
    status, again, props = client.call(names.rpc_queue, "payments.create", body, message_id=key)
    assert (status, again["payment"]["id"], props.headers["Idempotent-Replayed"]) == (200, payment["id"], True)
    http = http_post(api, json.dumps(body), key=key)
    assert http.status_code == 200 and http.json["payment"]["id"] == payment["id"]
    conflict = client.call(names.rpc_queue, "payments.create", {**body, "amount": "1"}, message_id=key)
    assert conflict[:2] == (409, http_post(api, '{"currency": "LTC", "amount": 1}', key=key).json)
    # An explicit Idempotency-Key header wins over the message id.
    header_key = "hdr-" + uuid.uuid4().hex[:8]
    first = client.call(
        names.rpc_queue, "payments.create", body, message_id="a-" + header_key, headers={"Idempotency-Key": header_key}
    )
    second = client.call(
        names.rpc_queue, "payments.create", body, message_id="b-" + header_key, headers={"Idempotency-Key": header_key}
    )
    assert (first[0], second[0]) == (201, 200) and first[1]["payment"]["id"] == second[1]["payment"]["id"]
    status, listed, _ = client.call(names.rpc_queue, "payments.list", {"currency": "LTC", "limit": 1})
    assert status == 200 and listed == api.simulate_get("/payments", params={"currency": "LTC", "limit": "1"}).json
    page2 = client.call(names.rpc_queue, "payments.list", {"currency": "LTC", "cursor": listed["next_cursor"]})
    assert page2[0] == 200 and page2[1]["next_cursor"] is None
    assert [p["id"] for p in listed["payments"] + page2[1]["payments"]] == [first[1]["payment"]["id"], payment["id"]]
    # The create's payment.created event went out on the exchange.
    events = [json.loads(b) for m, p, b in client.take(names.events_queue, 2)]
    assert {(e["payment_id"], e["event"]["type"]) for e in events} == {
        (payment["id"], "payment.created"),
        (first[1]["payment"]["id"], "payment.created"),
    }


@pytest.mark.parametrize(
    "type, body, props, status, code, field",
    [
        (None, {"id": "x"}, {}, 400, "bad_request", "type"),
        ("payments.delete", {"id": "x"}, {}, 400, "bad_request", "type"),
        ("payments.create", {"currency": "LTC", "amount": 1}, {}, 400, "bad_request", "message_id"),
        ("payments.get", {}, {}, 422, "invalid", "id"),
        ("payments.get", {"id": "x", "extra": 1}, {}, 422, "invalid", "extra"),
        ("payments.get", [1], {}, 400, "bad_request", None),
        ("payments.get", b"\xff\xfe", {}, 400, "bad_request", None),
        ("payments.get", {"id": str(uuid.UUID(int=1))}, {}, 404, "not_found", "id"),
        ("payments.list", {"status": 5}, {}, 422, "invalid", "status"),
        ("payments.list", {"status": "SOLD"}, {}, 422, "invalid", "status"),
        ("payments.list", {"limit": "lots"}, {}, 422, "invalid", "limit"),
        ("payments.list", {"cursor": "nope"}, {}, 422, "invalid", "cursor"),
        ("payments.get", b"{" + b" " * 70000 + b"}", {}, 413, "content_too_large", None),
    ],
)
def test_malformed_commands_get_an_error_reply(amqp_runtime, client, type, body, props, status, code, field):
    runtime, api, names = amqp_runtime
    got_status, reply, _ = client.call(names.rpc_queue, type, body, **props)
    assert (got_status, reply["success"], reply["error"]["code"], reply["error"]["field"]) == (
        status,
        False,
        code,
        field,
    )


def test_without_reply_to_a_failed_command_is_dead_lettered_and_the_consumer_goes_on(amqp_runtime, client):
    runtime, api, names = amqp_runtime
    client.send(names.rpc_queue, b"not json", type="payments.get", reply=False, message_id="broken-1")
    ((method, props, body),) = client.take(names.dead_letter_queue, 1)
    assert body == b"not json" and props.message_id == "broken-1"
    assert props.headers["x-first-death-reason"] == "rejected"
    assert props.headers["x-first-death-queue"] == names.rpc_queue
    status, reply, _ = client.call(names.rpc_queue, "payments.list", {"limit": 1})
    assert status == 200 and reply["success"] is True


def test_api_keys_guard_create_and_list_as_over_http(amqp_runtime, client):
    runtime, api, names = amqp_runtime
    queue = names.rpc_queue + ".keyed"
    consumer = CommandConsumer(runtime.payments, amqp.parameters(URL, "test"), queue, api_keys=["k1"]).start()
    try:
        wait_for(lambda: consumer.link.report()["state"] == "connected")
        denied = client.call(queue, "payments.list", {})
        assert denied[:2] == (
            401,
            {
                "success": False,
                "error": {
                    "code": "unauthorized",
                    "message": "a valid API key is required (Authorization: Bearer <key>)",
                    "field": None,
                },
            },
        )
        assert client.call(queue, "payments.list", {}, headers={"Authorization": "Bearer k1"})[0] == 200
        assert client.call(queue, "payments.get", {"id": str(uuid.UUID(int=2))})[0] == 404  # reads need no key
    finally:
        consumer.stop()
        client.channel.queue_delete(queue)
        client.channel.queue_delete(queue + ".dead")
        client.channel.exchange_delete(queue + ".dead-letter")


def test_stored_keys_scopes_and_the_public_view_as_over_http(amqp_runtime, client):
    runtime, api, names = amqp_runtime
    queue = names.rpc_queue + ".scoped"
    consumer = CommandConsumer(
        runtime.payments, amqp.parameters(URL, "test"), queue, api_keys=KeyRing(["k1"], runtime.key_store)
    ).start()
    _, creator = runtime.key_store.create(["payments:create"])
    reader_row, reader = runtime.key_store.create(["payments:read"])
    try:
        wait_for(lambda: consumer.link.report()["state"] == "connected")
        body = {"currency": "LTC", "amount": 1, "account": "order-7", "metadata": {"description": "Mug", "n": 1}}
        status, made, _ = client.call(
            queue,
            "payments.create",
            body,
            headers={"Authorization": "Bearer " + creator, "Idempotency-Key": uuid.uuid4().hex},
        )
        assert status == 201 and made["payment"]["account"] == "order-7"
        status, denied, _ = client.call(queue, "payments.list", {}, headers={"Authorization": "Bearer " + creator})
        assert status == 403 and "payments:read" in denied["error"]["message"]
        status, denied, _ = client.call(
            queue,
            "payments.create",
            body,
            headers={"Authorization": "Bearer " + reader, "Idempotency-Key": uuid.uuid4().hex},
        )
        assert status == 403 and "payments:create" in denied["error"]["message"]
        pid = made["payment"]["id"]
        status, anon, _ = client.call(queue, "payments.get", {"id": pid})
        assert status == 200 and anon["payment"]["view"] == "public" and anon["payment"]["description"] == "Mug"
        assert "account" not in anon["payment"] and "metadata" not in anon["payment"]
        assert anon["payment"] == api.simulate_get("/payments/%s" % pid).json["payment"]  # the same view as HTTP
        status, full, _ = client.call(queue, "payments.get", {"id": pid}, headers={"Authorization": "Bearer " + reader})
        assert status == 200 and full["payment"]["metadata"] == {"description": "Mug", "n": 1}
        runtime.key_store.revoke(reader_row.public_id)
        assert client.call(queue, "payments.list", {}, headers={"Authorization": "Bearer " + reader})[0] == 401
    finally:
        for key in runtime.key_store.list():
            runtime.key_store.revoke(key.public_id)  # the other tests of this module run without stored keys
        consumer.stop()
        client.channel.queue_delete(queue)
        client.channel.queue_delete(queue + ".dead")
        client.channel.exchange_delete(queue + ".dead-letter")


def test_health_reports_amqp_without_failing_http(amqp_runtime):
    runtime, api, names = amqp_runtime
    health = api.simulate_get("/healthz")
    assert health.status_code == 200 and health.json["ok"] is True
    report = health.json["amqp"]
    assert report["publisher"]["state"] == report["commands"]["state"] == "connected"
    assert report["exchange"] == names.exchange and report["broker"] == redact(URL)
