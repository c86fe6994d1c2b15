"""One log format (ops.logs): the text and JSON formatters, the dictConfig the daemon and
gunicorn share (redaction on the handler, the access log off by default), the lines
said once per daemon (Transition) and the payment lifecycle lines (ops.lifecycle)."""

import io
import json
import logging
import logging.config
import sys

import pytest

from transient import settings
from transient.core import events as ev
from transient.core.errors import ConfigError
from transient.ops import lifecycle, logs, metrics
from transient.store.db import Outages


def record(msg="payment created", level=logging.INFO, name="transient.payments", args=None, exc=None, **extra):
    rec = logging.LogRecord(name, level, __file__, 1, msg, args, exc)
    for key, val in extra.items():
        setattr(rec, key, val)
    return rec


def test_json_is_one_object_a_line_with_the_fields():
    rec = record(payment_id="p1", currency="LTC", status="PAID", txid="ab" * 32, delivery_id=7, unrelated="x")
    line = logs.JsonFormatter().format(rec)
    assert "\n" not in line
    out = json.loads(line)
    assert out["level"] == "INFO" and out["logger"] == "transient.payments" and out["message"] == "payment created"
    assert out["time"].endswith("Z") and "T" in out["time"]
    assert (out["payment_id"], out["currency"], out["status"], out["txid"], out["delivery_id"]) == (
        "p1",
        "LTC",
        "PAID",
        "ab" * 32,
        7,
    )
    assert "unrelated" not in out  # only the known fields: logging's own attributes are no field


def test_a_traceback_stays_on_its_line_in_both_formats():
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        rec = record("sync failed", level=logging.ERROR, exc=sys.exc_info())
    text = logs.TextFormatter().format(rec)
    assert "\n" not in text and "ValueError: boom\\nsecond line" in text
    out = json.loads(logs.JsonFormatter().format(record("sync failed", exc=rec.exc_info)))
    assert "Traceback" in out["exc"] and "ValueError" in out["exc"]


def test_text_is_one_readable_line_with_key_value_fields():
    line = logs.TextFormatter().format(record("payment %s", args=("paid",), payment_id="p1", error="a b"))
    assert line.split(" ", 1)[1] == 'INFO transient.payments: payment paid payment_id=p1 error="a b"'


@pytest.fixture
def configured():
    """Apply ops.logs.config to this process's logging (its one handler writing to a
    StringIO), then put logging back as it was."""
    stream = io.StringIO()
    names = ["", "gunicorn.error", "gunicorn.access", "apscheduler", "pika", "transient"]
    saved = {n: (logging.getLogger(n).handlers[:], logging.getLogger(n).level) for n in names}

    def apply(**kw):
        logging.config.dictConfig(logs.config(**kw))
        (handler,) = logging.getLogger().handlers
        handler.setStream(stream)
        return stream

    yield apply
    for n, (handlers, level) in saved.items():
        logger = logging.getLogger(n)
        logger.handlers[:] = handlers
        logger.setLevel(level)


def test_gunicorn_and_the_daemon_share_the_handler_and_secrets_are_masked_everywhere(configured):
    stream = configured(fmt="json", level="INFO", secrets=["s3cr3t-password"])
    secret = "s3cr3t-password"
    logging.getLogger("transient.sync").info("rpc to http://u:%s@node/" % secret, extra={"error": secret})
    logging.getLogger("gunicorn.error").info("Booting worker with pid: %s", 42)
    atoms = {"m": "GET", "U": "/payments", "s": "200", "M": "3", "h": "127.0.0.1", "r": "GET /payments?token=x"}
    logging.getLogger("gunicorn.access").info(logs.ACCESS_FORMAT, atoms)  # off by default
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["logger"] for line in lines] == ["transient.sync", "gunicorn.error"]
    assert "s3cr3t-password" not in stream.getvalue() and lines[0]["error"] == "***"
    assert lines[1]["message"] == "Booting worker with pid: 42"


def test_the_access_log_when_on_is_a_line_of_the_same_format_with_fields(configured):
    stream = configured(fmt="json", level="INFO", access_log=True)
    atoms = {"m": "POST", "U": "/payments", "s": "201", "M": "12", "h": "127.0.0.1", "r": "POST /payments HTTP/1.1"}
    atoms.update(b="80", a="curl/8")
    logging.getLogger("gunicorn.access").info(logs.ACCESS_FORMAT, atoms)
    (line,) = [json.loads(x) for x in stream.getvalue().splitlines()]
    assert line["logger"] == "gunicorn.access" and line["message"].startswith('127.0.0.1 "POST /payments HTTP/1.1" 201')
    assert (line["method"], line["path"], line["http_status"], line["duration_ms"]) == ("POST", "/payments", 201, 12)


def test_the_level_applies_and_apscheduler_stays_quiet(configured):
    stream = configured(fmt="text", level="WARNING")
    logging.getLogger("transient.sync").info("not shown")
    logging.getLogger("apscheduler.scheduler").info("Running job")
    logging.getLogger("transient.sync").warning("shown")
    assert [line.split(": ", 1)[1] for line in stream.getvalue().splitlines()] == ["shown"]


def test_a_transition_is_said_by_the_first_worker_only(tmp_path, monkeypatch):
    (tmp_path / "metrics").mkdir()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "metrics"))
    one, two = logs.Transition("node-LTC"), logs.Transition("node-LTC")  # two workers' views
    assert (one.down(), two.down(), one.down()) == (True, False, False)
    assert (two.up(), one.up()) == (True, False)
    assert logs.Transition("node-DOGE").down()  # another condition is its own


def test_without_a_run_directory_a_transition_is_this_process_s(monkeypatch):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    flag = logs.Transition("unit-test-local")
    assert (flag.down(), flag.down(), flag.up(), flag.up()) == (True, False, True, False)


def test_database_down_and_up_are_said_once_for_two_workers(tmp_path, monkeypatch, caplog):
    (tmp_path / "metrics").mkdir()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "metrics"))
    workers = [Outages(), Outages()]
    for outages in workers:
        outages.transition = logs.Transition("database")
    with caplog.at_level(logging.INFO, logger="transient"):
        for outages in workers:
            outages.failed(ConnectionError("server closed the connection"))
        for outages in workers:
            outages.recovered()
    said = [(r.levelname, r.event) for r in caplog.records if getattr(r, "event", "").startswith("database.")]
    assert said == [("WARNING", "database.down"), ("INFO", "database.up")]
    assert all(o.count == 1 for o in workers)  # each worker still counts its own outage (/healthz)


def test_each_payment_event_is_one_line_with_its_fields_and_counts(caplog):
    def count(metric, *labels):
        return metric.labels(*labels)._value.get()

    before = (count(metrics.PAYMENTS_CREATED, "DOGE"), count(metrics.RECEIVED_UNITS, "DOGE"))
    before_reverted = count(metrics.STATUS_CHANGES, "DOGE", "UNPAID", "double_spend")
    out = {"txid": "cd" * 32, "vout": 1, "amount": 150, "state": "pending"}
    items = [
        ("p1", "DOGE", ev.CREATED, {"status": "UNPAID"}),
        ("p1", "DOGE", ev.RECEIVED, out),
        ("p1", "DOGE", ev.STATUS_CHANGED, {"from": "UNPAID", "to": "PENDING", "cause": "received"}),
        ("p1", "DOGE", ev.CONFIRMED, dict(out, state="confirmed")),
        ("p1", "DOGE", ev.STATUS_CHANGED, {"from": "PENDING", "to": "PAID", "cause": "block"}),
        ("p1", "DOGE", ev.REVERTED, dict(out, state="conflicted", cause="double_spend")),
        ("p1", "DOGE", ev.STATUS_CHANGED, {"from": "PAID", "to": "UNPAID", "cause": "double_spend"}),
        ("p2", "DOGE", ev.STATUS_CHANGED, {"from": "UNPAID", "to": "EXPIRED", "cause": "expiry"}),
        ("p2", "DOGE", ev.LATE, out),
    ]
    with caplog.at_level(logging.INFO, logger="transient.payments"):
        lifecycle.committed(items)
    lines = [(r.getMessage(), r.event, r.payment_id) for r in caplog.records if r.name == "transient.payments"]
    assert lines == [
        ("payment created", ev.CREATED, "p1"),
        ("payment received an output", ev.RECEIVED, "p1"),
        ("payment status UNPAID -> PENDING", ev.STATUS_CHANGED, "p1"),
        ("payment output confirmed", ev.CONFIRMED, "p1"),
        ("payment PAID", ev.STATUS_CHANGED, "p1"),
        ("payment output reverted (double_spend)", ev.REVERTED, "p1"),
        ("payment status PAID -> UNPAID", ev.STATUS_CHANGED, "p1"),
        ("payment expired", ev.STATUS_CHANGED, "p2"),
        ("late funds: an output arrived after the payment expired", ev.LATE, "p2"),
    ]
    reverted = [r for r in caplog.records if getattr(r, "event", None) == ev.REVERTED][0]
    assert (reverted.cause, reverted.txid, reverted.amount) == ("double_spend", "cd" * 32, 150)
    assert count(metrics.PAYMENTS_CREATED, "DOGE") - before[0] == 1
    assert count(metrics.RECEIVED_UNITS, "DOGE") - before[1] == 150
    assert count(metrics.STATUS_CHANGES, "DOGE", "UNPAID", "double_spend") - before_reverted == 1


def test_the_log_settings_and_their_environment_variables():
    env = {"TRANSIENT_LOG_FORMAT": "JSON", "TRANSIENT_LOG_ACCESS_LOG": "true", "TRANSIENT_LOG_LEVEL": "warning"}
    config = settings.load(None, environ=env, dotenv=False)
    assert (config["log.format"], config["log.access_log"], config["log.level"]) == ("json", True, "WARNING")
    defaults = settings.load(None, environ={}, dotenv=False)
    assert (defaults["log.format"], defaults["log.access_log"]) == ("text", False)
    with pytest.raises(ConfigError, match='TRANSIENT_LOG_FORMAT must be "text" or "json"'):
        settings.load(None, environ={"TRANSIENT_LOG_FORMAT": "xml"}, dotenv=False)


def test_the_dispatchers_lines_name_each_deliverys_kind(caplog):
    """An e-mail given up is logged as an e-mail, a webhook as a webhook: the word comes
    from the delivery kind's policy (delivery.kinds), not from the dispatcher."""
    import datetime

    from transient.delivery import kinds
    from transient.delivery.dispatcher import Claimed, Dispatcher
    from transient.delivery.mail import MailDispatcher, Mailer, parse_smtp_url
    from transient.delivery.sender import Outcome, Sender

    now = datetime.datetime(2026, 12, 8)
    mail = MailDispatcher(None, Mailer(parse_smtp_url("smtp://127.0.0.1:2525", insecure=True)), [60])
    hooks = Dispatcher(None, Sender(), [60])
    message = Claimed(7, "mailto:kunde@example.org", "", 0, 1, None, "e1", "payment.status_changed")
    hook = Claimed(8, "https://shop.example.org/hook", "{}", 0, 1, None, "e1", "payment.status_changed")
    caplog.set_level(logging.INFO, logger="transient.webhooks")
    mail._log(Outcome(message, now, 5, error="SMTP 550 no such mailbox", refused=True), 1, "failed", None, now)
    mail._log(Outcome(message, now, 5, error="ConnectionRefusedError"), 1, "pending", now, now)
    hooks._log(Outcome(hook, now, 5, status=204), 1, "delivered", None, now)
    given_up, retry, delivered = [r.getMessage() for r in caplog.records]
    assert given_up.startswith("e-mail payment.status_changed (#7") and given_up.endswith("giving up")
    assert retry.startswith("e-mail payment.status_changed (#7") and "webhook" not in given_up + retry
    assert delivered.startswith("webhook payment.status_changed (#8") and delivered.endswith("delivered")
    assert (mail.noun, hooks.noun, kinds.noun("amqp:transient")) == ("e-mail", "webhook", "AMQP message")
