"""SSRF at send time: the sender resolves a per-payment URL's host once, checks the
addresses and connects to the one it checked (a loopback receiver stands for an
internal service); the operator's [webhook] url is trusted. The rules themselves:
tests/unit/test_targets.py."""

import pytest
from _daemon import wait_for
from _outbox import OutboxHarness
from _receiver import Receiver

from transient.core.errors import ValidationError
from transient.delivery.dispatcher import Dispatcher
from transient.delivery.sender import Sender
from transient.delivery.targets import TargetGuard, parse_networks
from transient.payments.validation import check_url
from transient.store.models import Delivery, DeliveryAttempt


@pytest.fixture
def receiver():
    r = Receiver().start()
    yield r
    r.stop()


def send(sender, url):
    return sender.post(url, b"{}", sender.headers("00000000-0000-0000-0000-000000000000", "ping", body=b"{}"))


def test_a_name_that_resolves_to_loopback_is_refused_at_send_time(receiver):
    asked = []

    def resolve(host, port):  # a name that points inside (or was rebound there after the payment)
        asked.append(host)
        return ["127.0.0.1"]

    guard = TargetGuard(resolve=resolve)
    url = "http://rebind.test:%d/hook" % receiver.port
    assert check_url(url, "callback_url", guard) == url  # the API accepted it, asking no resolver
    assert asked == []
    outcome = send(Sender(guard=guard), url)
    assert outcome.status is None and outcome.refused and not outcome.retryable
    assert "loopback" in outcome.error and "127.0.0.1" in outcome.error
    assert asked == ["rebind.test"] and receiver.received() == []  # nothing reached the "internal service"


def test_the_checked_address_is_the_one_connected_to(receiver):
    guard = TargetGuard(parse_networks(["127.0.0.0/8"]), resolve=lambda host, port: ["127.0.0.1"])
    outcome = send(Sender(guard=guard), "http://hooks.test:%d/hook" % receiver.port)
    assert outcome.ok, outcome.error
    [got] = receiver.received()
    assert got.headers["Host"] == "hooks.test:%d" % receiver.port  # the URL's name, on the checked address


def test_numeric_forms_and_userinfo_are_refused_at_send_time_too(receiver):
    sender = Sender(guard=TargetGuard())
    for url in (
        "http://127.0.0.1:%d/hook",
        "http://2130706433:%d/hook",
        "http://0x7f000001:%d/hook",
        "http://localhost:%d/hook",
        "http://u:p@127.0.0.1:%d/hook",
    ):
        outcome = send(sender, url % receiver.port)
        assert outcome.refused and outcome.status is None, (url, outcome.error)
    assert receiver.received() == []
    with pytest.raises(ValidationError):
        check_url("http://[::1]:%d/hook" % receiver.port, "url", TargetGuard())


def test_failed_answers_of_per_payment_urls_are_not_kept_but_the_operators_are(receiver):
    receiver.script(500, 500)
    sender = Sender(guard=TargetGuard(parse_networks(["127.0.0.0/8"])), trusted=[receiver.url])
    mine = send(sender, receiver.url)  # the operator's [webhook] url: trusted, its answer kept
    theirs = send(sender, receiver.url + "?per-payment")
    assert (mine.status, theirs.status) == (500, 500)
    assert mine.response == '{"ok": false}' and theirs.response is None
    assert send(sender, receiver.url + "?ok").response == '{"ok": true}'  # a success's answer is harmless


def test_the_operators_url_is_never_checked(receiver):
    sender = Sender(guard=TargetGuard(), trusted=[receiver.url])
    assert send(sender, receiver.url).ok


def test_the_dispatcher_fails_a_refused_callback_at_once_and_keeps_delivering_the_operators(db, receiver):
    """A callback_url that resolves to loopback at send time (no allowed network) fails
    on its first attempt, is not retried and reaches nothing; the operator's URL on the
    same receiver is delivered."""
    hub = OutboxHarness(db, receiver.url)
    dispatcher = Dispatcher(db, Sender(guard=TargetGuard(), trusted=[receiver.url]), [1, 1, 1], 2)
    hub.listeners.append(dispatcher.wake)
    dispatcher.start()
    try:
        hub.emit(hub.payment(callback_url="http://2130706433:%d/hook?own" % receiver.port), "payment.created")
        wait_for(lambda: Delivery.select().where(Delivery.state == Delivery.PENDING).count() == 0)
        by_url = {d.url: d for d in Delivery.select()}
        own = by_url["http://2130706433:%d/hook?own" % receiver.port]
        assert (own.state, own.attempts) == (Delivery.FAILED, 1) and own.last_error.startswith("refused:")
        assert by_url[receiver.url].state == Delivery.DELIVERED
        assert DeliveryAttempt.get(DeliveryAttempt.delivery == own.id).response is None
        assert [r.path for r in receiver.received()] == ["/hook"] and len(receiver.received()) == 1
    finally:
        dispatcher.stop()
