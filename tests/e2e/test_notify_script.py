"""walletnotify and blocknotify through processes: the ping script as the node runs it
(``python3 -I -S``), its wiring line, and transientd woken by it (the coalescing and the
endpoint in-process: tests/unit/test_notify.py)."""

import http.server
import os
import socket
import subprocess
import sys
import threading
import time

import pytest
from _daemon import ROOT, Daemon, coin_config

from transient.chain import notify_script
from transient.devnet.node import NOTIFY_SCRIPT, RegtestNode, find_free_port, notify_command

TXID = "ab" * 32


def ping(*args, timeout=30):
    """Run the ping script as the node does: ``python3 -I -S`` (no site-packages)."""
    return subprocess.run(
        [sys.executable, "-I", "-S", NOTIFY_SCRIPT, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={"PATH": os.environ.get("PATH", "")},
    )


# -- the ping script ------------------------------------------------------------------


class Recorder(http.server.BaseHTTPRequestHandler):
    """Answers every POST with the status in the server's ``answer`` and records it."""

    def do_POST(self):
        self.server.seen.append((self.path, self.headers.get("X-Transient-Token")))
        status, body = self.server.answer
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def recorder():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    server.seen, server.answer = [], (202, b'{"success": true}')
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_script_posts_the_ping_with_the_token(recorder):
    url = "http://127.0.0.1:%d/base" % recorder.server_port
    result = ping("--url", url, "--token", "s3cret", "transaction", "ltc", TXID)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert recorder.seen == [("/base/notify/LTC/transaction/%s" % TXID, "s3cret")]


@pytest.mark.parametrize(
    "answer, code, words",
    [
        (
            (401, b'{"error": {"message": "notifications are accepted from loopback or with the notify token"}}'),
            2,
            "HTTP 401: notifications are accepted from loopback or with the notify token",
        ),
        ((503, b"overloaded"), 1, "HTTP 503: overloaded"),
    ],
)
def test_script_exit_code_follows_the_answer(recorder, answer, code, words):
    recorder.answer = answer
    result = ping("--url", "http://127.0.0.1:%d" % recorder.server_port, "block", "LTC", TXID)
    assert result.returncode == code and words in result.stderr, result.stderr


@pytest.mark.parametrize(
    "args, words",
    [
        (["transaction", "LTC", "xyz"], "the txid must be 64 hexadecimal characters, got 'xyz'"),
        (["block", "LTC", "%s"], "is the placeholder %s?"),
        (["mempool", "LTC", TXID], "the kind must be transaction or block"),
        (["transaction", TXID], "usage: transient-notify"),
        (["--url", "https://example.org", "block", "LTC", TXID], "for https use curl"),
        (["--wallet", "x", "block", "LTC", TXID], "unknown option --wallet"),
    ],
)
def test_script_refuses_a_bad_ping_without_sending_it(args, words):
    result = ping("--url", "http://127.0.0.1:%d" % find_free_port(), *args)
    assert result.returncode == 2 and words in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2 and "Traceback" not in result.stderr


def test_script_leaves_its_event_to_a_ping_not_yet_sent(recorder):
    """A burst coalesces before it reaches the daemon: while another ping holds the turn
    (it has not sent yet, so its sync will see this event), the script exits at once."""
    import fcntl

    url = "http://127.0.0.1:%d" % recorder.server_port
    os.makedirs(os.path.dirname(notify_script.turn_path(url, "LTC")), mode=0o700, exist_ok=True)
    with open(notify_script.turn_path(url, "LTC"), "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        skipped = ping("--url", url, "transaction", "LTC", TXID)
        other_coin = ping("--url", url, "transaction", "DOGE", TXID)
    assert (skipped.returncode, skipped.stderr, other_coin.returncode) == (0, "", 0)
    assert recorder.seen == [("/notify/DOGE/transaction/%s" % TXID, None)]
    assert ping("--url", url, "block", "LTC", TXID).returncode == 0  # the turn is free again
    assert recorder.seen[-1] == ("/notify/LTC/block/%s" % TXID, None)


def gated_line(lock, url, python=sys.executable):
    """The README's wiring line for volume, run by /bin/sh as the node runs walletnotify."""
    return "exec 9>>%s; flock -n 9 && exec %s -I -S %s --url %s --turn-fd 9 transaction LTC %s" % (
        lock,
        python,
        NOTIFY_SCRIPT,
        url,
        TXID,
    )


def turn_is_free(lock):
    import fcntl

    with open(lock, "a") as probe:
        try:
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True


def test_wiring_line_takes_the_turn_before_the_interpreter_starts(recorder, tmp_path):
    """While a ping that is still to be sent holds the turn, the wiring line ends in the
    shell: no Python starts (the bad interpreter path below would fail) and nothing is sent."""
    import fcntl

    lock, url = str(tmp_path / "LTC.lock"), "http://127.0.0.1:%d" % recorder.server_port
    with open(lock, "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        covered = subprocess.run(
            ["/bin/sh", "-c", gated_line(lock, url, python="/nonexistent/python3")],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert (covered.returncode, covered.stderr) == (1, "")  # flock -n: 1, as `&&` leaves it
    assert recorder.seen == []


def test_wiring_line_gives_the_turn_back_before_it_sends(recorder, tmp_path):
    """The script closes the shell's descriptor before connecting: when the daemon gets the
    ping, a later event can take the turn and send its own (its sync might start too late)."""
    lock, url = str(tmp_path / "LTC.lock"), "http://127.0.0.1:%d" % recorder.server_port
    free_when_received = []

    class Probe(Recorder):
        def do_POST(self):
            free_when_received.append(turn_is_free(lock))
            super().do_POST()

    recorder.RequestHandlerClass = Probe
    sent = subprocess.run(["/bin/sh", "-c", gated_line(lock, url)], capture_output=True, text=True, timeout=30)
    assert (sent.returncode, sent.stderr) == (0, "")
    assert recorder.seen == [("/notify/LTC/transaction/%s" % TXID, None)] and free_when_received == [True]


def test_wiring_line_turn_dies_with_a_failed_ping(recorder, tmp_path):
    """A ping that cannot even start (a wrong interpreter path) does not hold the turn."""
    lock, url = str(tmp_path / "LTC.lock"), "http://127.0.0.1:%d" % recorder.server_port
    failed = subprocess.run(
        ["/bin/sh", "-c", gated_line(lock, url, python="/nonexistent/python3")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert failed.returncode == 127 and turn_is_free(lock)
    assert subprocess.run(["/bin/sh", "-c", gated_line(lock, url)], timeout=30).returncode == 0
    assert len(recorder.seen) == 1


def test_script_refuses_a_bad_turn_fd():
    result = ping("--turn-fd", "1", "block", "LTC", TXID)
    assert result.returncode == 2 and "--turn-fd must be a file descriptor number of 3 or more" in result.stderr


def test_script_gives_up_on_a_daemon_that_does_not_answer():
    with socket.socket() as silent:  # accepts connections (the backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = "http://127.0.0.1:%d" % silent.getsockname()[1]
        result = ping("--url", url, "--timeout", "0.5", "transaction", "LTC", TXID, timeout=10)
    assert result.returncode == 1
    assert "transientd at %s did not answer within 0.5s" % url in result.stderr


def test_script_imports_nothing_but_socket_primitives(recorder):
    url = "http://127.0.0.1:%d" % recorder.server_port
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-X", "importtime", NOTIFY_SCRIPT, "--url", url, "block", "LTC", TXID],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    imported = {line.rsplit("|", 1)[1].strip() for line in result.stderr.splitlines() if "|" in line}
    assert "_socket" in imported
    # What makes a Python ping slow to start: each of these costs more than the ping itself.
    assert not imported & {"transient", "socket", "http.client", "urllib.request", "json", "re", "argparse"}


def test_scripts_transient_notify_is_the_shipped_script():
    link = os.path.join(ROOT, "scripts", "transient-notify")
    assert os.path.realpath(link) == os.path.realpath(NOTIFY_SCRIPT)
    assert os.access(link, os.X_OK)


# -- against the daemon ---------------------------------------------------------------


@pytest.fixture(scope="module")
def daemon(tmp_path_factory, regtest):
    """transientd on SQLite that syncs only when pinged (its poll is an hour)."""
    tmp = tmp_path_factory.mktemp("notify")
    wallet = regtest.create_wallet("notify_%d" % os.getpid())
    d = Daemon(str(tmp), "sqlite:///%s" % (tmp / "daemon.db"), coin_config(regtest, wallet, poll=3600))
    yield d.start()
    d.kill()


def test_script_wakes_the_daemon(daemon, regtest):
    made = daemon.create(currency="LTC", amount="0.1")
    txid = regtest.pay(made["payment_address"], "0.1")
    result = ping("--url", daemon.base, "transaction", "LTC", txid)
    assert result.returncode == 0, result.stderr
    daemon.wait_status(made["id"], "PENDING", timeout=15)


def test_a_worker_on_sqlite_does_not_load_the_postgresql_driver(daemon):
    """peewee imports psycopg2 whenever it is installed (it is, for PostgreSQL users):
    ~5 MB of libpq and its libraries in every worker that never uses them."""
    workers = open("/proc/%d/task/%d/children" % (daemon.proc.pid, daemon.proc.pid)).read().split()
    assert workers
    for pid in workers:
        maps = open("/proc/%s/maps" % pid).read()
        assert "libsqlite3" in maps and "libpq" not in maps and "psycopg2" not in maps


def test_script_reports_an_unknown_currency_and_a_stopped_daemon(tmp_path, regtest, wallet):
    d = Daemon(str(tmp_path), "sqlite:///%s" % (tmp_path / "d.db"), coin_config(regtest, wallet, poll=3600)).start()
    try:
        unknown = ping("--url", d.base, "transaction", "DOGE", TXID)
        assert unknown.returncode == 2, unknown.stderr
        assert "HTTP 422: currency 'DOGE' is not configured (configured: LTC)" in unknown.stderr
        health = d.get("/healthz").json()["coins"]["LTC"]
        assert health["last_notify_at"] is None and health["wakes"] == 1  # only the start-up catch-up
    finally:
        d.kill()
    down = ping("--url", d.base, "transaction", "LTC", TXID)
    assert down.returncode == 1 and "transientd is not reachable at %s" % d.base in down.stderr


def test_walletnotify_and_blocknotify_drive_every_payment(tmp_path, regtest):
    """The node runs the script for each of its events (walletnotify on the README's line
    for volume, the turn taken in the node's shell); the daemon never polls."""
    port = find_free_port()
    url = "http://127.0.0.1:%d" % port
    node = RegtestNode(
        tmp_path / "node",
        walletnotify=notify_command("transaction", "LTC", url, lock=str(tmp_path / "notify.lock")),
        blocknotify=notify_command("block", "LTC", url),
    )
    node.start()
    try:
        node.setup()
        wallet = node.create_wallet("shop")
        d = Daemon(
            str(tmp_path), "sqlite:///%s" % (tmp_path / "d.db"), coin_config(node, wallet, poll=3600), port=port
        ).start()
        try:
            pays = [d.create(currency="LTC", amount="0.01") for _ in range(20)]
            for p in pays:  # twenty transactions: forty walletnotify pings and a blocknotify
                node.pay(p["payment_address"], "0.01")
            for p in pays:
                d.wait_status(p["id"], "PENDING")
            node.mine(1)
            for p in pays:
                d.wait_status(p["id"], "PAID")
            coin = d.get("/healthz").json()["coins"]["LTC"]
            assert coin["last_notify_at"] is not None and coin["syncs"] >= 2
        finally:
            d.kill()
    finally:
        node.stop()


def test_a_stream_with_blocks_is_driven_by_pings_alone(tmp_path, regtest):
    """Payments a quarter second apart (each ping after a quiet spell: a sync at once)
    with a block after every fourth, the next payment right behind the block's pings
    (close together: they share the spaced sync). The daemon never polls, so every
    payment reaching PAID shows that no ping was left without a sync."""
    port = find_free_port()
    url = "http://127.0.0.1:%d" % port
    node = RegtestNode(
        tmp_path / "node",
        walletnotify=notify_command("transaction", "LTC", url),
        blocknotify=notify_command("block", "LTC", url),
    )
    node.start()
    try:
        node.setup()
        wallet = node.create_wallet("shop")
        config = coin_config(node, wallet, poll=3600) + "sync_coalesce_ms = 300\nsync_quiet_ms = 200\n"
        d = Daemon(str(tmp_path), "sqlite:///%s" % (tmp_path / "d.db"), config, port=port).start()
        try:
            pays = [d.create(currency="LTC", amount="0.01") for _ in range(12)]
            for i, p in enumerate(pays):
                node.pay(p["payment_address"], "0.01")
                if i % 4 == 3:
                    node.mine(1)
                time.sleep(0.25)
            for p in pays:
                d.wait_status(p["id"], "PAID")
        finally:
            d.kill()
    finally:
        node.stop()
