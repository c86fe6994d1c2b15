"""``transient devnet`` end to end, as the README's quick start runs it: up, the daemon,
a payment paid, mined, reorganised and mined again, doctor, down and up again."""

import json
import os
import subprocess
import sys

import pytest
import requests
from _cli import Lines, as_json, clean_env, one_line_error, run
from _daemon import ROOT, wait_for
from _services import _missing

from transient.devnet.node import find_free_port, litecoind_available
from transient.devnet.workspace import Devnet

pytestmark = pytest.mark.regtest


@pytest.fixture
def devnet_dir(tmp_path):
    """A directory for a devnet; whatever the test leaves running is stopped after it."""
    if not litecoind_available():
        _missing("litecoind is not installed")
    directory = tmp_path / "devnet"
    yield str(directory)
    if os.path.exists(directory):
        Devnet(directory).down()


@pytest.fixture
def daemon_for(tmp_path):
    """Start transientd with a config file, as the quick start does; killed after the test."""
    procs = []

    def start(config, api_url):
        log = open(tmp_path / "transientd.log", "ab")
        proc = subprocess.Popen(
            [sys.executable, os.path.join(ROOT, "transientd.py"), "--config", config],
            cwd=tmp_path,
            env=clean_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        procs.append(proc)
        wait_for(lambda: _answers(api_url + "/healthz") or proc.poll() is not None, timeout=30)
        assert proc.poll() is None, open(tmp_path / "transientd.log").read()
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
            proc.wait()


def _answers(url):
    try:
        return requests.get(url, timeout=2).status_code in (200, 503)
    except requests.RequestException:  # not listening yet, or too busy to answer in time
        return False


def status_of(api_url, pid):
    return requests.get("%s/payments/%s" % (api_url, pid), timeout=10).json()["payment"]["status"]


def test_a_first_payment_on_the_devnet(devnet_dir, daemon_for):
    up = as_json(run("devnet", "up", "--dir", devnet_dir, "--api-port", find_free_port(), "--json"))
    assert up["started"] is True and "rpc_password" not in up
    env = {"TRANSIENT_CONFIG": up["config"]}
    daemon_for(up["config"], up["api_url"])

    made = as_json(run("payments", "create", "--currency", "LTC", "--amount", "1.5", "--json", env=env))
    watch = subprocess.Popen(
        [sys.executable, "-m", "transient.cli", "payments", "watch", made["id"], "--json", "--interval", "0.2"],
        stdout=subprocess.PIPE,
        text=True,
        env=clean_env(env),
    )
    try:
        lines = Lines(watch)
        assert json.loads(lines.next())["status"] == "UNPAID"
        paid = as_json(run("devnet", "pay", made["id"], "--dir", devnet_dir, "--json"))
        assert (paid["address"], paid["amount"]) == (made["payment_address"], "1.5")
        pending = json.loads(lines.next())
        assert pending["status"] == "PENDING" and pending["transactions"][0]["txid"] == paid["txid"]
        mined = as_json(run("devnet", "mine", "--dir", devnet_dir, "--json"))
        assert len(mined["blocks"]) == 1
        assert json.loads(lines.next())["status"] == "PAID"
        assert watch.wait(30) == 0
    finally:
        watch.kill()
        watch.wait()

    # walletnotify and blocknotify reach the daemon: the doctor checks by a round trip.
    doctor = run("doctor", env=env)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "LTC walletnotify   round trip" in doctor.stdout and "LTC blocknotify    round trip" in doctor.stdout
    assert "FAIL" not in doctor.stdout and "WARN" not in doctor.stdout

    reorg = as_json(run("devnet", "reorg", "2", "--dir", devnet_dir, "--json"))
    assert reorg["transactions_back_in_mempool"] >= 1 and reorg["height"] == mined["height"] + 2
    wait_for(lambda: status_of(up["api_url"], made["id"]) == "PENDING", timeout=30)
    run("devnet", "mine", "--dir", devnet_dir)
    wait_for(lambda: status_of(up["api_url"], made["id"]) == "PAID", timeout=30)

    nothing_due = run("devnet", "pay", made["id"], "--dir", devnet_dir)
    assert "has nothing due (PAID): give an AMOUNT" in one_line_error(nothing_due, 1)
    assert "AMOUNT must be greater than zero" in one_line_error(
        run("devnet", "pay", made["id"], "0", "--dir", devnet_dir), 2
    )
    status = as_json(run("devnet", "status", "--dir", devnet_dir, "--json"))
    assert status["running"] is True and status["height"] == reorg["height"] + 1

    down = run("devnet", "down", "--dir", devnet_dir)  # the daemon here was not started by scripts/run
    assert (down.returncode, down.stdout) == (
        0,
        "transientd still runs at %s (not started by ./scripts/run here): stop it where it runs\ndevnet stopped\n"
        % up["api_url"].removeprefix("http://"),
    )
    assert run("devnet", "status", "--dir", devnet_dir).returncode == 1
    assert "is not running: run `transient devnet up`" in one_line_error(run("devnet", "mine", "--dir", devnet_dir), 1)

    # Up again: the same chain, wallets and ports; the config still works.
    again = as_json(run("devnet", "up", "--dir", devnet_dir, "--json"))
    assert again["started"] is True and again["rpc_port"] == up["rpc_port"] and again["api_port"] == up["api_port"]
    assert as_json(run("devnet", "status", "--dir", devnet_dir, "--json"))["height"] == status["height"]
    assert as_json(run("payments", "show", made["id"], "--json", env=env))["status"] == "PAID"
    assert as_json(run("devnet", "up", "--dir", devnet_dir, "--json"))["started"] is False
    human = run("devnet", "up", "--dir", devnet_dir).stdout  # the one way to start the daemon
    assert "Start the daemon on it" in human and "  %s\n" % Devnet(devnet_dir).start_line() in human
    purged = run("devnet", "down", "--purge", "--dir", devnet_dir)
    assert purged.returncode == 0 and not os.path.exists(devnet_dir)


def test_devnet_says_how_to_install_litecoind(tmp_path):
    result = run("devnet", "up", "--dir", tmp_path / "devnet", env={"PATH": str(tmp_path)})
    assert "sudo apt-get install litecoind" in one_line_error(result, 1)
    assert not os.path.exists(tmp_path / "devnet")


def test_devnet_commands_need_a_devnet(tmp_path):
    result = run("devnet", "mine", "--dir", tmp_path / "none")
    assert "no devnet in %s: run `transient devnet up` first" % (tmp_path / "none") in one_line_error(result, 1)
