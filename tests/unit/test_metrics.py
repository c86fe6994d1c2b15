"""GET /metrics in-process (one process, no multiprocess directory): who may scrape,
what a request, a payment, a sync and a ping add, and the scrape-time gauges."""

import pytest
from _api import post
from fakes import fake_coin_config, fake_runtime
from prometheus_client.parser import text_string_to_metric_families

from transient.ops import metrics

PRIVATE = "203.0.113.7"  # a caller beyond loopback


def scrape(client, **kw):
    resp = client.simulate_get("/metrics", **kw)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/plain; version=0.0.4")
    return samples(resp.text)


def samples(text):
    """``{(name, ((label, value), ...)): value}`` of a text exposition."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(found, name, **labels):
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def api(tmp_path):
    client, runtime = fake_runtime(tmp_path)
    yield client, runtime
    runtime.close()


def test_payments_and_requests_are_counted_by_route_template_never_the_raw_path(api):
    client, runtime = api
    before = scrape(client)
    ids = [post(client, {"currency": "LTC", "amount": "0.5"}).json["payment"]["id"] for _ in range(3)]
    for pid in ids:
        assert client.simulate_get("/payments/%s" % pid).status_code == 200
    assert client.simulate_get("/no/such/%s" % ids[0]).status_code == 404
    after = scrape(client)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("transient_payments_created_total", currency="LTC") == 3
    assert delta("transient_payment_status_changes_total", currency="LTC", status="UNPAID", cause="created") == 3
    route = dict(method="GET", route="/payments/{payment_id}", status="200")
    assert delta("transient_http_requests_total", **route) == 3
    assert delta("transient_http_requests_total", method="POST", route="/payments", status="201") == 3
    assert delta("transient_http_requests_total", method="GET", route="unmatched", status="404") == 1
    assert delta("transient_http_request_duration_seconds_count", method="GET", route="/payments/{payment_id}") == 3
    # No payment id ever became a label value.
    assert not [key for key in after if any(pid in str(key) for pid in ids)]


def test_a_sync_a_payment_received_and_a_ping_are_counted(api):
    client, runtime = api
    before = scrape(client)
    p = post(client, {"currency": "LTC", "amount": "0.25"}).json["payment"]
    backend = runtime.backends["LTC"]
    backend.pay(p["payment_address"], 25_000_000)
    backend.mine(1)
    runtime.syncers["LTC"].run()
    # What the scheduler's runner adds around a sync (its own counters and timing).
    runtime.scheduler.runners["LTC"]._dirty = True
    runtime.scheduler.runners["LTC"].run()
    assert client.simulate_post("/notify/LTC/transaction/" + "ab" * 32).status_code == 202
    after = scrape(client)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("transient_received_base_units_total", currency="LTC") == 25_000_000
    assert delta("transient_payment_status_changes_total", currency="LTC", status="PAID", cause="received") == 1
    assert delta("transient_sync_runs_total", currency="LTC") == 1
    assert delta("transient_sync_duration_seconds_count", currency="LTC") == 1
    assert delta("transient_notify_pings_total", currency="LTC", kind="transaction") == 1
    # Scrape-time gauges: the cursor is at the tip, the fake node is up.
    assert value(after, "transient_node_up", currency="LTC") == 1
    assert value(after, "transient_sync_cursor_lag_blocks", currency="LTC") == 0
    assert value(after, "transient_sync_seconds_since_success", currency="LTC") >= 0
    assert value(after, "transient_database_up") == 1
    assert value(after, "transient_outbox_backlog", kind="webhook") == 0
    assert value(after, "transient_process_resident_memory_bytes") > 0


def test_the_cursor_lag_and_a_node_that_does_not_answer(api):
    client, runtime = api
    runtime.syncers["LTC"].run()
    backend = runtime.backends["LTC"]
    backend.mine(3)
    found = scrape(client)
    assert value(found, "transient_sync_cursor_lag_blocks", currency="LTC") == 3
    backend.down = True
    found = scrape(client)
    assert value(found, "transient_node_up", currency="LTC") == 0
    assert ("transient_sync_cursor_lag_blocks", (("currency", "LTC"),)) not in found


def test_the_outbox_backlog_and_its_oldest_event_by_target_kind(tmp_path):
    client, runtime = fake_runtime(tmp_path, extra='[webhook]\nurl = "http://127.0.0.1:9/hook"\n')
    try:
        for _ in range(2):
            post(client, {"currency": "LTC", "amount": "1"})
        found = scrape(client)
        assert value(found, "transient_outbox_backlog", kind="webhook") == 2
        assert value(found, "transient_outbox_backlog", kind="amqp") == 0
        assert value(found, "transient_outbox_oldest_pending_age_seconds", kind="webhook") >= 0
    finally:
        runtime.close()


def test_who_may_scrape(tmp_path):
    client, runtime = fake_runtime(tmp_path)
    try:
        _, reader = runtime.key_store.create(["metrics:read"])
        _, admin = runtime.key_store.create(["admin"])
        _, payments = runtime.key_store.create(["payments:read"])

        def get(key=None, remote=PRIVATE, **headers):
            if key:
                headers["Authorization"] = "Bearer " + key
            return client.simulate_get("/metrics", remote_addr=remote, headers=headers)

        assert get(remote="127.0.0.1").status_code == 200  # Prometheus on this host
        assert get(remote="::1").status_code == 200
        assert get().status_code == 401
        assert get(payments).status_code == 403
        assert "metrics:read" in get(payments).json["error"]["message"]
        assert get(reader).status_code == 200
        assert get(admin).status_code == 200
        # Through a proxy on loopback the client is elsewhere: it needs a key.
        assert get(remote="127.0.0.1", **{"X-Forwarded-For": PRIVATE}).status_code == 401
        assert get(reader, remote="127.0.0.1", **{"X-Forwarded-For": PRIVATE}).status_code == 200
    finally:
        runtime.close()


def test_without_any_key_everyone_may_scrape_like_every_route(api):
    client, _ = api
    assert client.simulate_get("/metrics", remote_addr=PRIVATE).status_code == 200


def test_rpc_method_labels_stay_bounded():
    assert metrics.rpc_method(["getblockchaininfo"]) == "getblockchaininfo"
    assert metrics.rpc_method(["gettransaction"] * 500) == "batch(gettransaction)"
    assert metrics.rpc_method(["getnetworkinfo", "getblockchaininfo", "getnetworkinfo"]) == (
        "batch(getblockchaininfo,getnetworkinfo)"
    )


def test_the_address_pool_gauge_reads_what_is_left(tmp_path):
    client, runtime = fake_runtime(tmp_path, coins=fake_coin_config(extra="address_pool = 4"))
    try:
        assert value(scrape(client), "transient_address_pool_available", currency="LTC") == 0  # an empty pool
        runtime.pools["LTC"].refill()
        assert value(scrape(client), "transient_address_pool_available", currency="LTC") == 4
        post(client, {"currency": "LTC", "amount": "1"})
        assert value(scrape(client), "transient_address_pool_available", currency="LTC") == 3
    finally:
        runtime.close()
