"""``./scripts/run`` on a fresh machine (no config file, no node): the devnet, the daemon on
SQLite and the lines to type next; a payment made and paid with those lines; Ctrl-C stops
the daemon and the node. Then the CLI says when the daemon is not running, and ``devnet
down`` stops the daemon scripts/run started or says that another one still runs."""

import http.server
import json
import os
import signal
import subprocess

import pytest
import requests
from _cli import Lines, as_json, one_line_error, run
from _daemon import ROOT, wait_for
from _http import close, serve
from _services import _missing

from transient.devnet.node import find_free_port, litecoind_available

pytestmark = pytest.mark.regtest


class FirstRun:
    """scripts/run in its own process group (as a terminal's foreground job), in ``cwd``."""

    def __init__(self, cwd, port):
        if not litecoind_available():
            _missing("litecoind is not installed")
        self.cwd, self.port = cwd, port
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRANSIENT_")}
        # A HOME with no ~/.dogecoin: the built-in defaults' node cannot answer.
        env.update(HOME=str(cwd / "home"), TRANSIENT_SERVER_BIND="127.0.0.1:%d" % port)
        os.makedirs(env["HOME"], exist_ok=True)
        self.env = env
        self.proc = subprocess.Popen(
            [os.path.join(ROOT, "scripts", "run")],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines = Lines(self.proc)
        self.seen = []

    def until(self, text, timeout=120):
        """Read output lines until one holds ``text``; return that line."""
        while True:
            line = self.lines.next(timeout)
            self.seen.append(line)
            if text in line:
                return line

    def ctrl_c(self):
        os.killpg(self.proc.pid, signal.SIGINT)  # what the terminal sends its foreground job
        return self.proc.wait(90)

    def cli(self, *args):
        return run(*args, cwd=self.cwd, env={"HOME": self.env["HOME"], "TRANSIENT_CONFIG": self.config})

    @property
    def config(self):
        return str(self.cwd / ".devnet" / "config.toml")

    def kill(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def _pids(pattern):
    out = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


@pytest.fixture
def first_run(tmp_path):
    runs = []

    def start():
        runs.append(FirstRun(tmp_path, find_free_port()))
        return runs[-1]

    yield start
    for one in runs:
        one.kill()
    devnet = tmp_path / ".devnet"
    if devnet.exists():
        run("devnet", "down", "--dir", devnet)


def test_scripts_run_on_a_fresh_machine_starts_the_devnet_and_takes_a_payment(first_run, tmp_path):
    fresh = first_run()
    fresh.until("starting the devnet")
    fresh.until("Take a first payment")
    fresh.until("devnet mine")
    text = "".join(fresh.seen)
    api = "http://127.0.0.1:%d" % fresh.port
    assert "API      %s" % api in text and "config   %s" % fresh.config in text
    assert "TRANSIENT_CONFIG=%s" % fresh.config in text
    for line in (
        "curl -s -X POST %s/payments" % api,
        "transient payments create --currency LTC --amount 1.5",
        "%s/pay/ID" % api,
        "transient devnet pay ID",
        "transient devnet mine",
    ):
        assert line in text, text
    assert os.path.exists(tmp_path / ".devnet" / "transient.db")  # SQLite, in the devnet

    # The printed curl line, then the printed CLI lines, as a new user types them.
    curl = [line for line in fresh.seen if "curl -s -X POST" in line][0].strip()
    made = json.loads(subprocess.run(curl, shell=True, capture_output=True, text=True, timeout=30).stdout)
    assert made["payment"]["status"] == "UNPAID"
    created = as_json(fresh.cli("payments", "create", "--currency", "LTC", "--amount", "1.5", "--json"))
    page = requests.get("%s/pay/%s" % (api, created["id"]), timeout=10)
    assert page.status_code == 200 and created["payment_address"] in page.text
    as_json(fresh.cli("devnet", "pay", created["id"], "--json"))
    as_json(fresh.cli("devnet", "mine", "--json"))
    watched = fresh.cli("payments", "watch", created["id"], "--timeout", "60")
    assert watched.returncode == 0 and "PAID" in watched.stdout, watched.stdout + watched.stderr

    daemon, node = _pids("transientd --config %s" % fresh.config), _pids("datadir=%s" % (tmp_path / ".devnet"))
    assert daemon and node
    # A second ./scripts/run here finds the first one's daemon, says so and leaves both alone.
    second = subprocess.run(
        [os.path.join(ROOT, "scripts", "run")], cwd=tmp_path, env=fresh.env, capture_output=True, text=True, timeout=120
    )
    assert second.returncode == 1 and "something already answers at 127.0.0.1:%d" % fresh.port in second.stderr
    assert _pids("transientd --config %s" % fresh.config) == daemon
    assert fresh.ctrl_c() == 0, "".join(fresh.seen)
    wait_for(lambda: not _pids("transientd --config %s" % fresh.config), timeout=30)
    wait_for(lambda: not _pids("datadir=%s" % (tmp_path / ".devnet")), timeout=30)

    # No daemon now: the commands that need one say so, and create nothing.
    for args in (("payments", "create", "--currency", "LTC", "--amount", "1"), ("payments", "watch", created["id"])):
        line = one_line_error(fresh.cli(*args), 2)
        assert line.startswith("transient: transientd is not answering at 127.0.0.1:%d: start it with" % fresh.port)
        assert "./scripts/run" in line and "--offline" in line
    listed = as_json(fresh.cli("payments", "list", "--json"))["payments"]
    assert len(listed) == 2  # the two made above, none by the refused create


def test_devnet_down_stops_the_daemon_scripts_run_started_or_says_one_still_runs(first_run, tmp_path):
    fresh = first_run()
    fresh.until("devnet mine")
    down = run("devnet", "down", "--dir", tmp_path / ".devnet")
    assert down.returncode == 0, down.stderr
    assert "transientd stopped (the one ./scripts/run started on this devnet)" in down.stdout
    assert fresh.proc.wait(90) == 0  # the daemon ended, so scripts/run stopped and exited
    wait_for(lambda: not _pids("transientd --config %s" % fresh.config), timeout=30)

    # A daemon on the devnet's address that scripts/run did not start: down says so.
    port = json.loads((tmp_path / ".devnet" / "devnet.json").read_text())["api_port"]
    run("devnet", "up", "--dir", tmp_path / ".devnet")
    other = serve(port, Healthy)
    try:
        down = run("devnet", "down", "--dir", tmp_path / ".devnet")
    finally:
        close(other)
    assert down.returncode == 0, down.stderr
    assert "transientd still runs at 127.0.0.1:%d" % port in down.stdout and "devnet stopped" in down.stdout

    # With a config file, ./scripts/run runs that config as before (--check: and exits).
    shop = tmp_path / "shop.toml"
    shop.write_text((tmp_path / ".devnet" / "config.toml").read_text())
    env = dict(fresh.env, TRANSIENT_CONFIG=str(shop))
    checked = subprocess.run(
        [os.path.join(ROOT, "scripts", "run"), "--check"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stderr
    assert "running on TRANSIENT_CONFIG=%s" % shop in checked.stderr
    assert "transientd: configuration and database OK" in checked.stdout
    assert not _pids("datadir=%s" % (tmp_path / ".devnet"))  # no devnet for a config of one's own


class Healthy(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass
