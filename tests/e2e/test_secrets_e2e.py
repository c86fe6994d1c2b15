"""No secret leaks (issue 14, finding 9): a full flow on a real transientd, the regtest
node and a real receiver, configured with known secrets (the node's RPC password, API
keys, the webhook secret, the notify token, a webhook URL with user:pass@ and ?token=,
a payment's callback URL with credentials), then every place a secret could show:
the daemon's log (at DEBUG), /healthz, every API answer and error body, the event log,
the CLI's output (webhooks, doctor) and config errors at start-up."""

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
from _cli import clean_env, run
from _daemon import ROOT, wait_for
from _receiver import Receiver

pytestmark = pytest.mark.regtest

API_KEY = "apikey-E2E-s3cret-0a1b2c"
WEBHOOK_SECRET = "whsec-E2E-s3cret-3d4e5f"
NOTIFY_TOKEN = "notify-E2E-s3cret-6a7b8c"
HOOK_PASSWORD = "hookpass-E2E-s3cret-9d0e"
HOOK_TOKEN = "hooktoken-E2E-s3cret-1f2a"
CALLBACK_PASSWORD = "cbpass-E2E-s3cret-3b4c"
CALLBACK_TOKEN = "cbtoken-E2E-s3cret-5d6e"


def _secrets(regtest, db_url):
    found = [
        API_KEY,
        WEBHOOK_SECRET,
        NOTIFY_TOKEN,
        HOOK_PASSWORD,
        HOOK_TOKEN,
        CALLBACK_PASSWORD,
        CALLBACK_TOKEN,
        regtest.rpc_password,
    ]
    if urlsplit(db_url).password:
        found.append(urlsplit(db_url).password)
    return found


def _assert_clean(where, text, secrets):
    for secret in secrets:
        assert secret not in text, "%s shows a secret (%s...): %s" % (where, secret[:6], text[-2000:])


def test_no_secret_appears_in_logs_health_errors_event_log_or_cli(start_daemon, regtest, db_url, tmp_path):
    secrets = _secrets(regtest, db_url)
    receiver = Receiver().start()
    try:
        receiver.script(500, 500)  # two failed attempts before the receiver accepts: errors are logged
        hook = "http://hookuser:%s@127.0.0.1:%d/hook?token=%s&shop=1" % (HOOK_PASSWORD, receiver.port, HOOK_TOKEN)
        extra = (
            '[api]\nkeys = ["%s"]\n[notify]\ntoken = "%s"\n[webhook]\nurl = "%s"\nsecret = "%s"\n'
            'retry_schedule = ["1s", "1s", "1s"]\ntimeout = 2\nallowed_networks = ["127.0.0.0/8"]\n'
            % (API_KEY, NOTIFY_TOKEN, hook, WEBHOOK_SECRET)
        )
        d = start_daemon(extra=extra)
        d.http.headers["Authorization"] = "Bearer " + API_KEY
        texts = {}
        # A payment's own callback URL may not hold user:pass@ (the SSRF guard refuses it, and the
        # refusal does not echo it); one with a secret token, on a closed port: every attempt fails.
        refused = d.post(
            "/payments",
            json={
                "currency": "LTC",
                "amount": "0.1",
                "callback_url": "http://cbuser:%s@127.0.0.1:9/cb" % CALLBACK_PASSWORD,
            },
        )
        assert refused.status_code == 422 and refused.json()["error"]["field"] == "callback_url"
        texts["422 (user:pass@ callback)"] = refused.text
        callback = "http://127.0.0.1:9/cb?access_token=%s" % CALLBACK_TOKEN
        p = d.create(currency="LTC", amount="0.1", callback_url=callback)
        regtest.pay(p["payment_address"], "0.1")
        regtest.mine(1)
        d.wait_status(p["id"], "PAID")
        wait_for(lambda: len([r for r in receiver.received() if r.json["payment_id"] == p["id"]]) >= 5, timeout=30)
        ping = d.post("/webhooks/test", json={"url": callback})
        assert ping.status_code == 200 and ping.json()["success"] is False
        texts["webhooks/test"] = ping.text
        texts["webhooks/test (configured)"] = d.post("/webhooks/test").text
        events = d.get("/payments/%s/events" % p["id"])
        assert events.status_code == 200 and "127.0.0.1:9/cb?access_token=***" in events.text
        texts["event log"] = events.text
        texts["payments"] = d.get("/payments").text
        texts["healthz"] = d.get("/healthz").text
        # Error bodies: a wrong key, bad input, an unknown payment, notify without the token.
        texts["401"] = d.http.post(
            d.base + "/payments",
            json={"currency": "LTC", "amount": 1},
            headers={"Authorization": "Bearer " + API_KEY[:-1]},
        ).text
        texts["422"] = d.post(
            "/payments",
            json={"currency": "LTC", "amount": 1, "callback_url": "ftp://u:%s@x.example/" % CALLBACK_PASSWORD},
        ).text
        texts["404"] = d.get("/payments/%s" % ("0" * 32)).text
        texts["notify"] = d.post("/notify/LTC/block/%s?token=%s" % ("00" * 32, NOTIFY_TOKEN)).text
        config = d.config_path
        commands = {
            "webhooks list": (("webhooks", "list", "--config", config), {}),
            "webhooks list --json": (("webhooks", "list", "--json", "--config", config), {}),
            "webhooks events": (("webhooks", "events", p["id"], "--config", config), {}),
            "webhooks ping": (("webhooks", "ping", "--url", callback, "--config", config), {}),
            # Its notify check waits for a ping this daemon is not wired to send: 1 s is enough to print it.
            "doctor": (("doctor", "--config", config, "--notify-timeout", "1"), {"timeout": 180}),
        }
        with ThreadPoolExecutor(len(commands)) as pool:  # independent reads: at once
            running = {name: pool.submit(run, *argv, **kw) for name, (argv, kw) in commands.items()}
            cli = {name: future.result() for name, future in running.items()}
        for name, result in cli.items():
            texts[name] = result.stdout + result.stderr
        assert "127.0.0.1:9/cb?access_token=***" in texts["webhooks list"]
        d.stop()
        texts["daemon log"] = d.log()
    finally:
        receiver.stop()
    assert "webhook" in texts["daemon log"] and "giving up" in texts["daemon log"]
    assert "token=***" in texts["daemon log"]
    for where, text in texts.items():
        _assert_clean(where, text, secrets)


@pytest.mark.parametrize(
    "line, secret",
    [("rpc_password = 987654321", "987654321"), ('rpc_password = ["PwInAList-s3cret"]', "PwInAList-s3cret")],
)
def test_a_config_error_at_start_up_names_the_key_without_the_secret(tmp_path, regtest, line, secret):
    path = tmp_path / "bad.toml"
    path.write_text('[coins.LTC]\nbackend = "litecoin"\nrpc_url = "%s"\nrpc_user = "u"\n%s\n' % (regtest.rpc_url, line))
    daemon = subprocess.run(
        [sys.executable, os.path.join(ROOT, "transientd.py"), "--config", str(path), "--check"],
        capture_output=True,
        text=True,
        cwd=str(tmp_path),
        env=clean_env(),
        timeout=60,
    )
    assert daemon.returncode == 2, daemon.stderr
    assert "rpc_password" in daemon.stderr and secret not in daemon.stderr + daemon.stdout
    doctor = run("doctor", "--config", path)
    assert "rpc_password" in doctor.stdout and secret not in doctor.stdout + doctor.stderr


def test_a_bad_database_url_from_the_environment_is_not_echoed(tmp_path):
    result = run(
        "migrate", env={"TRANSIENT_DATABASE_URL": "mysql://admin:DbS3cret-e2e@db.example/pay"}, cwd=str(tmp_path)
    )
    assert result.returncode == 2, result.stderr
    assert "TRANSIENT_DATABASE_URL" in result.stderr and "DbS3cret-e2e" not in result.stderr + result.stdout
