"""AMQP events: events published per second with publisher confirms, against without.

Queues N events (4 per payment) in a fresh database through the real outbox, with
the target ``amqp:<exchange>``, then drains them with the real Publisher into the
machine's RabbitMQ: a durable topic exchange bound to one durable queue, persistent
messages (so a confirm means "written to disk"). The baseline, timed in the same
run, is the same publisher with confirms off. Also timed: confirms with a batch of
1 (one round trip per event, as pika's BlockingConnection publishes), and pika
alone with no database at all (what the outbox's claim/record costs). Every run
checks that the queue holds exactly the events published.

    python bench/amqp_publish.py --n 10000
    python bench/amqp_publish.py --n 10000 --db postgresql://postgres@127.0.0.1:5432/test
"""

import argparse
import json
import os
import sys
import tempfile
import time
import uuid

import pika

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from _outbox_load import fill  # noqa: E402

from transient.amqp import link as amqp
from transient.amqp.publisher import Publisher  # noqa: E402
from transient.core.redact import redact
from transient.store import migrations  # noqa: E402
from transient.store.db import open_database  # noqa: E402
from transient.store.models import Delivery  # noqa: E402


class Broker:
    """A bench exchange bound to one durable queue; deleted at the end."""

    def __init__(self, url):
        self.url = url
        tag = uuid.uuid4().hex[:8]
        self.exchange, self.queue = "transient.bench.%s" % tag, "transient.bench.%s.all" % tag
        self.conn = pika.BlockingConnection(pika.URLParameters(url))
        self.channel = self.conn.channel()
        self.channel.exchange_declare(self.exchange, "topic", durable=True)
        self.channel.queue_declare(self.queue, durable=True)
        self.channel.queue_bind(self.queue, self.exchange, "#")

    def count(self):
        return self.channel.queue_declare(self.queue, passive=True).method.message_count

    def purge(self):
        self.channel.queue_purge(self.queue)

    def close(self):
        self.channel.queue_delete(self.queue)
        self.channel.exchange_delete(self.exchange)
        self.conn.close()


def published(db, broker, n, confirms, batch):
    """The real Publisher until ``n`` deliveries are recorded; return (sent, seconds)."""
    publisher = Publisher(db, amqp.parameters(broker.url, "bench"), [1], batch=batch, confirms=confirms).start()
    started = time.perf_counter()
    deadline = started + 600
    while publisher.sent < n and time.perf_counter() < deadline:
        time.sleep(0.002)
    seconds = time.perf_counter() - started
    publisher.stop()
    return publisher.sent, seconds


def pika_alone(broker, n, confirms):
    """pika's BlockingConnection publishing the same bodies, no database: the floor."""
    bodies = [d.body.encode() for d in Delivery.select(Delivery.body).limit(n)]
    conn = pika.BlockingConnection(pika.URLParameters(broker.url))
    channel = conn.channel()
    if confirms:
        channel.confirm_delivery()
    props = pika.BasicProperties(content_type="application/json", delivery_mode=2)
    started = time.perf_counter()
    for body in bodies:
        channel.basic_publish(broker.exchange, "payment.LTC.created", body, props)
    conn.process_data_events(0)
    seconds = time.perf_counter() - started
    conn.close()
    return len(bodies), seconds


def run(db, broker, n, batch):
    target = amqp.target(broker.exchange)
    runs = [
        ("publisher, no confirms (baseline)", lambda: published(db, broker, n, False, batch)),
        ("publisher, confirms, batch %d" % batch, lambda: published(db, broker, n, True, batch)),
        ("publisher, confirms, batch 1", lambda: published(db, broker, n, True, 1)),
        ("pika alone, no confirms", lambda: pika_alone(broker, n, False)),
        ("pika alone, confirm each", lambda: pika_alone(broker, n, True)),
    ]
    rows, base_rate, fill_s = [], None, None
    for name, timed in runs:
        if name.startswith("publisher"):  # pika alone reuses the last fill's bodies
            fill_s = fill(db, target, n)
        broker.purge()
        sent, seconds = timed()
        time.sleep(0.2)  # the queue's count lags the confirms of an unconfirmed publish
        arrived = broker.count()
        if arrived != sent or sent != n:
            raise SystemExit("%s: %d published, %d in the queue, %d wanted" % (name, sent, arrived, n))
        rate = sent / seconds
        base_rate = base_rate or rate
        rows.append((name, sent, seconds, rate, rate / base_rate))
    return rows, fill_s


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10000, help="events queued per run")
    parser.add_argument("--batch", type=int, default=200, help="deliveries per confirm round")
    parser.add_argument(
        "--url", default=os.environ.get("TRANSIENT_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    )
    parser.add_argument("--db", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--smoke", action="store_true", help="tiny size: proves the bench runs (CI)")
    args = parser.parse_args()
    if args.smoke:
        args.n = 200
    with tempfile.TemporaryDirectory(prefix="transient-bench-") as tmp:
        url = args.db or "sqlite:///%s" % os.path.join(tmp, "bench.db")
        db = open_database(url)
        migrations.apply(db)
        broker = Broker(args.url)
        try:
            rows, fill_s = run(db, broker, args.n, args.batch)
        finally:
            broker.close()
            db.close()
    print(
        "database: %s; broker %s; %d events per run (4 per payment), durable queue, persistent messages"
        % (url.split(":")[0], redact(args.url), args.n)
    )
    print("queueing %d events through the outbox: %.2f s (%.0f events/s)" % (args.n, fill_s, args.n / fill_s))
    print("%-36s %9s %9s %10s %9s" % ("publisher", "published", "seconds", "events/s", "vs base"))
    for name, sent, seconds, rate, ratio in rows:
        print("%-36s %9d %9.2f %10.0f %8.2fx" % (name, sent, seconds, rate, ratio))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(
                [dict(zip(("publisher", "published", "seconds", "per_second", "ratio"), r)) for r in rows], fh, indent=2
            )


if __name__ == "__main__":
    main()
