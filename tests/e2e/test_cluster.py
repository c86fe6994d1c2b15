"""Three daemons on one PostgreSQL database (issue 19): separate process trees, configs
and lease holders, through PgBouncer in transaction pooling mode, on one regtest node,
with a webhook URL, per-payment callback URLs and AMQP on, and rates from a local
exchange. One cluster for the module; the tests run in order and build on each other:
payments created round-robin, paid in bursts, blocks, a reorg, a leaseholder killed
with kill -9 in the middle of a sync; then the ledger, the syncs, the deliveries and
the cluster-wide jobs are checked."""

import datetime
import json
import os
import random
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
import requests
from _broker import Client, Names, broker_lock, reachable
from _cluster import Cluster, can_fake_a_host, cluster_coins
from _daemon import ping, wait_for
from _exchange import Exchange
from _receiver import Receiver
from _services import _missing
from _watch import create_keyless_wallet, fresh_tpub

from transient.core import status as S
from transient.store.models import ChainState, Delivery, Event, JobLease, Payment, PooledAddress, Receipt

pytestmark = pytest.mark.regtest

BURSTS, PER_BURST = 3, 8
AMOUNT = Decimal("0.0123")
LEASE_SECONDS = 10  # tests/_daemon.py's [sync] lease_seconds


def _config(hooks, exchange, names):
    return (
        '[webhook]\nurl = "%s"\nretry_schedule = ["1s"]\nallowed_networks = ["127.0.0.0/8"]\n' % hooks.url
        + '[rates]\nfiat = ["USD"]\nrefresh_interval = 1\nmax_age = 30\n'
        + "".join('[rates.%s]\nurl = "%s"\ntimeout = 5\n' % (n, exchange.url(n)) for n in ("kraken", "coinbase"))
        + names.config()
    )


@pytest.fixture(scope="module", params=["node", "watch"])
def cluster(request, regtest):
    """The cluster, once with addresses from the node's wallet (its pool) and once in
    watch-only mode (derived from an xpub by the daemons, watched by a keyless wallet)."""
    if reachable():
        _missing("RabbitMQ is not reachable: %s" % reachable())
    with broker_lock.hold():
        hooks, callbacks = Receiver().start(), Receiver().start()
        exchange = Exchange().start()
        exchange.set("LTC/USD", "80.10")
        names, client = Names(), Client()
        client.bind_all(names)
        name = "cluster_%s_%d" % (request.param, os.getpid())
        if request.param == "watch":
            coins = cluster_coins(regtest, create_keyless_wallet(regtest, name)) + 'xpub = "%s"\n' % fresh_tpub()
        else:
            coins = cluster_coins(regtest, regtest.create_wallet(name))
        c = Cluster(coins, _config(hooks, exchange, names))
        try:
            c.started = time.monotonic()
            c.start(3)
            c.node, c.hooks, c.callbacks, c.exchange = regtest, hooks, callbacks, exchange
            c.names, c.amqp = names, client
            c.payments, c.mode = [], request.param
            yield c
        finally:
            c.stop()
            client.delete(names)
            client.close()
            for server in (hooks, callbacks, exchange):
                server.stop()


def _create(c, n, start=0):
    """Create ``n`` payments round-robin through the daemons, several at once."""

    def one(i):
        d = c.daemons[(start + i) % len(c.daemons)]
        return d.create(currency="LTC", amount=str(AMOUNT), callback_url=c.callbacks.url)

    with ThreadPoolExecutor(6) as pool:
        return list(pool.map(one, range(n)))


def _pay(c, payments, daemons=None):
    """One transaction per payment, each pinged to a random daemon as walletnotify would."""
    for p in payments:
        txid = c.node.pay(p["payment_address"], p["amount"])
        ping(random.choice(daemons or c.daemons), value=txid)


def _mine(c, daemons=None):
    block = c.node.mine(1)[0]
    for d in daemons or c.daemons:
        ping(d, kind="block", value=block)


def _all_status(c, status, ids, timeout=60):
    def done():
        rows = Payment.select(Payment.status).where(Payment.id.in_(ids)).tuples()
        return [s for (s,) in rows].count(status) == len(ids)

    wait_for(done, timeout=timeout, interval=0.2)


def test_payments_created_round_robin_get_distinct_addresses(cluster):
    made = _create(cluster, BURSTS * PER_BURST)
    cluster.payments += made
    assert len({p["id"] for p in made}) == len({p["payment_address"] for p in made}) == len(made)
    stored = [a for (a,) in Payment.select(Payment.address).tuples()]
    assert len(stored) == len(set(stored)) == len(made)
    # A pooled address is claimed once: no unclaimed pool row holds a handed-out address.
    pooled = PooledAddress.select(PooledAddress.address).where(PooledAddress.claimed_at.is_null())
    unclaimed = {a for (a,) in pooled.tuples()}
    assert not unclaimed & set(stored)
    indexes = [i for (i,) in Payment.select(Payment.derivation_index).tuples() if i is not None]
    assert len(indexes) == len(set(indexes)) == (len(made) if cluster.mode == "watch" else 0)


def test_bursts_blocks_and_a_reorg_credit_each_output_once(cluster):
    c = cluster
    ids = [p["id"] for p in c.payments]
    for b in range(BURSTS):
        _pay(c, c.payments[b * PER_BURST : (b + 1) * PER_BURST])
        _mine(c)
    _all_status(c, S.PAID, ids)
    # The last block goes: its burst is unconfirmed again (PENDING), then mined again.
    c.node.reorg(depth=1, replace=True)
    for d in c.daemons:
        ping(d, kind="block", value=c.node.tip())
    last = ids[-PER_BURST:]
    _all_status(c, S.PENDING, last)
    _mine(c)
    _all_status(c, S.PAID, ids)
    _check_ledger(ids)


def _check_ledger(ids):
    """Each output credited once; every payment's amount_received is the sum of its counted receipts."""
    receipts = list(Receipt.select().where(Receipt.payment.in_(ids)))
    keys = [(r.currency, r.txid, r.output) for r in receipts]
    assert len(keys) == len(set(keys)) == len(ids)  # one output per payment, one receipt per output
    for p in Payment.select().where(Payment.id.in_(ids)):
        counted = sum(r.amount for r in receipts if r.payment_id == p.id and r.state in Receipt.COUNTED)
        assert p.amount_received == counted == p.amount, p.id


def test_kill_9_of_the_leaseholder_mid_sync_hands_the_coin_over(cluster):
    c = cluster
    more = _create(c, 4, start=1)
    c.payments += more
    # The third daemon is replaced by one whose sync kills its worker (SIGKILL) after the
    # ledger is written and before the commit: whenever it holds the lease, it dies mid-sync.
    # In the node-wallet run it is on "another host" (a host name of its own): the others
    # cannot see its pid, so they wait for its lease to expire, as across machines.
    c.daemons[2].stop()
    host = "other-host" if c.mode == "node" and can_fake_a_host() else None
    crashing = c.add(env={"TRANSIENT_FAULTS": "sync.before_commit"}, index=2, host=host, healthy=False)
    _pay(c, more, daemons=c.daemons[:2])  # the healthy ones; the crashing one is pinged below
    for _ in range(3):
        try:
            ping(crashing, value="0" * 64)
        except requests.RequestException:
            pass  # its answer cut short: the sync it started killed the worker
    wait_for(lambda: crashing.log().count("LTC: sync start") >= 1, timeout=30)
    os.killpg(crashing.proc.pid, signal.SIGKILL)  # and then the whole host goes
    crashing.proc.wait(10)
    killed_at, killed = datetime.datetime.utcnow(), time.monotonic()
    died = c.spans(daemons=[crashing])
    assert died and all(end is None for _, end, _, _ in died)  # every sync it began, it died in
    _mine(c, c.daemons[:2])
    # Another daemon syncs the coin within the lease time: when the lease expires if the
    # dead holder was on another host, at once on the same host (its pid is seen gone).
    holder = ChainState.get_by_id("LTC").lease_holder or ""
    wait_for(lambda: ChainState.get_by_id("LTC").last_sync_at > killed_at, timeout=LEASE_SECONDS + 5)
    handed = time.monotonic() - killed
    print("\nthe coin (lease of %s) was synced by another daemon %.1f s after the kill" % (holder, handed))
    if host and holder.startswith(host + ":"):
        assert handed > LEASE_SECONDS / 2  # it was not taken early: the lease kept the others out
    _all_status(c, S.PAID, [p["id"] for p in more], timeout=LEASE_SECONDS + 30)
    state = ChainState.get_by_id("LTC")
    assert state.last_sync_at > killed_at and str(crashing.proc.pid) not in (state.lease_holder or "")
    _check_ledger([p["id"] for p in c.payments])
    # Nothing doubled or lost: the dead sync's events never existed; each payment has one of each.
    for p in more:
        types = [e.type for e in Event.select().where(Event.payment == p["id"]).order_by(Event.sequence)]
        assert (
            types[0] == "payment.created" and types.count("payment.received") == types.count("payment.confirmed") == 1
        )
        assert types.count("payment.status_changed") in (1, 2)  # (PENDING and) PAID, once each
    c.add(index=2)  # a healthy third daemon again


def test_one_sync_of_the_coin_at_a_time_across_the_daemons(cluster):
    spans = cluster.spans()
    assert len({i for _, _, i, _ in spans}) >= 2  # the coin moved between daemons
    finished = [s for s in spans if s[1] is not None]
    for (_, end, i, pid), (next_start, _, j, next_pid) in zip(spans, spans[1:]):
        if end is None:  # killed mid-sync: its lease kept everyone else out until it was seen dead
            continue
        assert next_start >= end, "daemon %d (pid %s) synced from %s while daemon %d (pid %s) ran until %s" % (
            j,
            next_pid,
            next_start,
            i,
            pid,
            end,
        )
    assert len(finished) >= BURSTS
    print("\nsyncs: %d finished, by daemons %s" % (len(finished), sorted({i for _, _, i, _ in finished})))


def _deliveries_done():
    return Delivery.select().where(Delivery.state != "delivered").count() == 0


def test_every_event_reaches_every_target_once_or_more_in_order(cluster):
    c = cluster
    wait_for(_deliveries_done, timeout=60, interval=0.5)
    ids = [p["id"] for p in c.payments]
    events = {str(e.event_id): (str(e.payment_id), e.sequence) for e in Event.select().where(Event.payment.in_(ids))}
    messages = c.amqp.take(c.names.events_queue, c.amqp.count(c.names.events_queue), timeout=30)
    arrivals = {
        "webhook.url": [r.event_id for r in c.hooks.received()],
        "callback_url": [r.event_id for r in c.callbacks.received()],
        "amqp": [props.message_id for _, props, _ in messages],
    }
    duplicates = {}
    for target, got in arrivals.items():
        assert set(events) <= set(got), "%s missed %d events" % (target, len(set(events) - set(got)))
        duplicates[target] = len(got) - len(set(got))
        last = {}
        for event_id in dict.fromkeys(got):  # first arrivals, in order
            if event_id not in events:
                continue
            pid, seq = events[event_id]
            assert seq > last.get(pid, 0), "%s: event %d of %s arrived after %d" % (target, seq, pid, last[pid])
            last[pid] = seq
    # A duplicate send is allowed; it carries the same event id (counted above by id).
    bodies = [json.loads(r.body) for r in c.hooks.received()]
    assert all(b["event"]["id"] == r.event_id for b, r in zip(bodies, c.hooks.received()))
    print("\nevents: %d; duplicates per target: %s" % (len(events), duplicates))


def test_rate_refreshes_and_the_pool_keeper_run_once_per_cluster(cluster):
    c = cluster
    elapsed = time.monotonic() - c.started
    # refresh_interval = 1: once per cluster is at most one fetch a second per source
    # (three daemons refreshing each would make three).
    for source in ("kraken", "coinbase"):
        assert 1 <= c.exchange.requests[source] <= elapsed + 3, (source, c.exchange.requests, elapsed)
    print("\nrate fetches in %.0f s: %s" % (elapsed, dict(c.exchange.requests)))
    lease = JobLease.get_by_id("address-pool")
    pids = {pid for _, _, _, pid in c.spans()}
    holder_pid = lease.holder.split(":")[1]
    assert lease.expires_at > datetime.datetime.utcnow() and holder_pid in pids | _daemon_pids(c)


def _daemon_pids(c):
    found = set()
    for d in c.daemons:
        found.add(str(d.proc.pid))
        try:
            with open("/proc/%d/task/%d/children" % (d.proc.pid, d.proc.pid)) as fh:
                found |= set(fh.read().split())
        except OSError:
            pass
    return found


def test_the_daemons_work_through_pgbouncer_in_transaction_pooling(cluster):
    """Everything above ran through PgBouncer with pool_mode = transaction: the daemons
    hold no session state (no advisory locks, no prepared statements, no SET), and the
    server connections stay within the pool while the clients are many more."""
    bouncer = cluster.bouncer
    assert {r["key"]: r["value"] for r in bouncer.show("CONFIG")}["pool_mode"] == "transaction"
    (pool,) = [r for r in bouncer.show("POOLS") if r["database"] == cluster.name]
    (stats,) = [r for r in bouncer.show("STATS") if r["database"] == cluster.name]
    clients = [r for r in bouncer.show("CLIENTS") if r["database"] == cluster.name]
    servers = pool["sv_active"] + pool["sv_idle"] + pool["sv_used"]
    assert stats["total_xact_count"] > 100 and len(clients) > servers <= bouncer.pool_size
    print(
        "\npgbouncer: %d clients on %d server connections, %d transactions"
        % (len(clients), servers, stats["total_xact_count"])
    )
