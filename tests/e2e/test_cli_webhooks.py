"""``transient webhooks`` through its real entry point, with a real receiver on loopback."""

import pytest
from _cli import as_json, one_line_error, run
from _daemon import coin_config
from _receiver import Receiver

from transient import webhooks

pytestmark = pytest.mark.regtest


@pytest.fixture
def receiver():
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def config(tmp_path, regtest, wallet, receiver):
    path = tmp_path / "config.toml"
    path.write_text(
        '[database]\nurl = "sqlite:///%s"\nauto_migrate = true\n'
        '[webhook]\nurl = "%s"\nsecret = "cli-secret"\n%s'
        % (tmp_path / "transient.db", receiver.url, coin_config(regtest, wallet))
    )
    return str(path)


def test_events_list_redeliver_and_ping(config, receiver):
    made = as_json(
        run("payments", "create", "--offline", "--currency", "LTC", "--amount", "1", "--json", "--config", config)
    )
    (event,) = as_json(run("webhooks", "events", made["id"], "--json", "--config", config))
    assert event["type"] == "payment.created" and event["sequence"] == 1
    (delivery,) = event["deliveries"]
    assert delivery["state"] == "pending" and delivery["url"] == receiver.url  # no daemon runs to send it
    table = run("webhooks", "events", made["id"], "--config", config)
    assert (
        table.returncode == 0 and "payment.created" in table.stdout and "#%d pending" % delivery["id"] in table.stdout
    )

    listed = as_json(run("webhooks", "list", "--state", "pending", "--json", "--config", config))
    assert [d["id"] for d in listed] == [delivery["id"]] and listed[0]["payment_id"] == made["id"]
    assert run("webhooks", "list", "--state", "failed", "--config", config).stdout.strip() == "no deliveries"

    again = as_json(run("webhooks", "redeliver", str(delivery["id"]), "--json", "--config", config))
    assert again[0]["redelivery_of"] == delivery["id"] and again[0]["id"] != delivery["id"]
    assert "no delivery with id 999" in one_line_error(run("webhooks", "redeliver", "999", "--config", config), 1)
    assert "--failed" in one_line_error(run("webhooks", "redeliver", "--config", config), 2)
    assert run("webhooks", "redeliver", "--failed", "--config", config).stdout.strip() == "nothing to redeliver"

    pinged = run("webhooks", "ping", "--config", config)
    assert pinged.returncode == 0 and "HTTP 200" in pinged.stdout, pinged.stderr
    (req,) = receiver.received()
    assert webhooks.verify(req.body, req.headers["Transient-Signature"], "cli-secret")["event"]["type"] == "ping"
    receiver.stop()
    assert "did not accept" in one_line_error(run("webhooks", "ping", "--config", config), 1)
    assert "--url" in one_line_error(run("webhooks", "ping", "--url", "ftp://x", "--config", config), 2)
