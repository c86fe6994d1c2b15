"""A consumer that starts before Transient's first event can bind: the publisher declares
the events exchange, and the command consumer its queue, as soon as their connection is
open (against the machine's RabbitMQ)."""

import json
import time

import pika
import pytest
from _broker import URL, broker, broker_shared, client, names  # noqa: F401  (fixtures)
from _outbox import OutboxHarness, settled

from transient.amqp import link as amqp
from transient.amqp.bridge import Amqp


def exists(channel_of, declare):
    """True once a passive declare succeeds (a failed one closes the channel: a fresh one each time)."""
    channel = channel_of()
    try:
        declare(channel)
        return True
    except pika.exceptions.ChannelClosedByBroker as exc:
        assert exc.reply_code == 404, exc
        return False
    finally:
        if channel.is_open:
            channel.close()


def wait_until(check, timeout=20):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not declared within %ss" % timeout
        time.sleep(0.05)


@pytest.fixture
def bridge(db, names):
    hub = OutboxHarness(db, extra_targets=[amqp.target(names.exchange)])
    # The command consumer only declares and waits here: no command is sent to it.
    side = Amqp(URL, names.exchange, names.rpc_queue, [1], 30, db).serve_commands(None, 65536, ())
    hub.listeners.append(side.publisher.wake)
    yield hub, side
    side.stop()


def test_the_exchange_and_the_command_queue_exist_before_any_event(bridge, client, names):
    hub, side = bridge
    conn = client.conn
    assert not exists(conn.channel, lambda ch: ch.exchange_declare(names.exchange, passive=True))
    side.start()  # no event is waiting: nothing is published yet
    wait_until(lambda: exists(conn.channel, lambda ch: ch.exchange_declare(names.exchange, passive=True)))
    wait_until(lambda: exists(conn.channel, lambda ch: ch.queue_declare(names.rpc_queue, passive=True)))
    # The consumer binds to what is there, without declaring the exchange itself.
    client.channel.queue_declare(names.events_queue, durable=True)
    client.channel.queue_bind(names.events_queue, names.exchange, "#")
    payment = hub.payment("LTC")
    hub.emit(payment, "payment.created")
    settled(1)
    ((method, _props, body),) = client.take(names.events_queue, 1)
    assert method.routing_key == "payment.LTC.created" and json.loads(body)["payment_id"] == str(payment.id)
