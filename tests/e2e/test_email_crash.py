"""kill -9 between an e-mail's send and its record (TRANSIENT_FAULTS=email.after_send): the
SMTP server has the message, the daemon dies before writing that down. A new daemon sends
it again once the dead one's lease on the delivery runs out: one duplicate, with the same
Message-ID, and nothing lost (docs/guides/email.md says so)."""

import time

import pytest
from _daemon import Daemon, coin_config
from _smtp import SmtpServer

from transient.store.db import open_database
from transient.store.models import Delivery

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)]


def _email(smtp):
    # timeout 1: the dispatcher's lease on a delivery is 2 x timeout + 30 s = 32 s.
    return '[email]\nsmtp_url = "%s"\nsender = "shop@example.org"\nca_file = "%s"\ntimeout = 1\n' % (
        smtp.url,
        smtp.cert,
    )


def _delivery(db_url):
    db = open_database(db_url)
    try:
        return list(Delivery.select().where(Delivery.url.startswith("mailto:")))
    finally:
        db.close()


def test_kill_9_between_send_and_record_sends_at_most_one_duplicate(tmp_path, db_url, regtest, wallet):
    smtp = SmtpServer(tmp_path).start()
    coins = coin_config(regtest, wallet)
    first = Daemon(str(tmp_path), db_url, coins, extra=_email(smtp), env={"TRANSIENT_FAULTS": "email.after_send"})
    second = None
    try:
        first.start()
        p = first.create(currency="LTC", amount="0.3", email="buyer@example.org")
        regtest.pay(p["payment_address"], "0.3")
        regtest.mine(1)
        ((to, message),) = smtp.inbox.wait(1, timeout=60)
        time.sleep(1)  # the worker is dead; its master would start another one: stop them all
        first.kill()
        (row,) = _delivery(db_url)
        assert (row.state, row.attempts) == ("pending", 0)  # sent, never recorded
        second = Daemon(str(tmp_path), db_url, coins, extra=_email(smtp), port=None).start()
        got = smtp.inbox.wait(2, timeout=90)  # after the dead worker's lease (32 s)
        time.sleep(2)
        assert len(smtp.inbox.messages) == 2  # one duplicate, no more
        (_, again) = got[1]
        assert again["Message-ID"] == message["Message-ID"] and again["Subject"] == message["Subject"]
        deadline = time.monotonic() + 20
        while _delivery(db_url)[0].state != "delivered" and time.monotonic() < deadline:
            time.sleep(0.2)
        (row,) = _delivery(db_url)
        assert (row.state, row.attempts) == ("delivered", 1)
    finally:
        first.kill()
        if second is not None:
            second.kill()
        smtp.stop()
