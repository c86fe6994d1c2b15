"""API keys and exposure with real processes: transientd refuses to start beyond
loopback without keys (exit 2, one line), and keys made and revoked with the
``transient keys`` CLI act on a running daemon at once. In-process: tests/unit/test_api_keys.py."""

import os
import subprocess
import sys

import requests
from _cli import as_json, clean_env, one_line_error, run
from _daemon import ROOT, Daemon, coin_config, find_free_port, wait_for


def check(config, env=None):
    return subprocess.run(
        [sys.executable, os.path.join(ROOT, "transientd.py"), "--config", config, "--check"],
        capture_output=True,
        text=True,
        env=clean_env(env),
        timeout=120,
    )


def _config(tmp_path, regtest, wallet, extra=""):
    path = tmp_path / "exposed.toml"
    path.write_text(
        '[server]\nbind = "0.0.0.0:%d"\n[database]\nurl = "sqlite:///%s"\n%s\n%s'
        % (find_free_port(), tmp_path / "exposed.db", extra, coin_config(regtest, wallet))
    )
    return str(path)


def test_a_daemon_beyond_loopback_without_keys_refuses_to_start(tmp_path, regtest, wallet):
    config = _config(tmp_path, regtest, wallet)
    assert run("migrate", "--config", config).returncode == 0
    line = one_line_error(check(config), 2)
    assert "server.bind 0.0.0.0 is not a loopback address" in line
    assert "[api] keys" in line and "[api] allow_anonymous = true" in line
    # A key made with the CLI is enough; so is saying allow_anonymous explicitly.
    made = as_json(run("keys", "create", "--scope", "payments:read", "--json", "--config", config))
    assert check(config).returncode == 0
    run("keys", "revoke", made["id"], "--config", config)
    assert check(config).returncode == 2
    assert check(config, {"TRANSIENT_API_ALLOW_ANONYMOUS": "true"}).returncode == 0


def test_keys_made_and_revoked_with_the_cli_act_on_the_running_daemon(tmp_path, regtest, wallet, db_url):
    daemon = Daemon(str(tmp_path), db_url, coin_config(regtest, wallet)).start()
    try:
        config = daemon.config_path
        assert daemon.get("/payments").status_code == 200  # no key anywhere yet: open (loopback)
        creator = as_json(
            run("keys", "create", "--scope", "payments:create", "--label", "shop", "--json", "--config", config)
        )
        reader = as_json(run("keys", "create", "--scope", "payments:read", "--json", "--config", config))
        # A stored key turns keys on in the daemon too (each worker asks again within a second).
        assert wait_for(lambda: daemon.get("/payments").status_code == 401, timeout=10)
        made = requests.post(
            daemon.base + "/payments",
            json={"currency": "LTC", "amount": "0.1", "account": "o-1"},
            headers={"Authorization": "Bearer " + creator["key"]},
            timeout=10,
        )
        assert made.status_code == 201, made.text
        pid = made.json()["payment"]["id"]
        listed = daemon.get("/payments", headers={"Authorization": "Bearer " + creator["key"]})
        assert listed.status_code == 403 and "payments:read" in listed.json()["error"]["message"]
        assert "account" not in daemon.get("/payments/%s" % pid).json()["payment"]  # anonymous: public view
        full = daemon.get("/payments/%s" % pid, headers={"Authorization": "Bearer " + reader["key"]})
        assert full.json()["payment"]["account"] == "o-1"
        listing = run("keys", "list", "--config", config)
        assert listing.returncode == 0 and creator["id"] in listing.stdout and creator["key"] not in listing.stdout
        assert run("keys", "revoke", reader["id"], "--config", config).returncode == 0
        assert daemon.get("/payments", headers={"Authorization": "Bearer " + reader["key"]}).status_code == 401
        assert reader["key"] not in daemon.log() and creator["key"] not in daemon.log()
    finally:
        daemon.kill()
