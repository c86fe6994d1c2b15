"""The ``transient`` command line through its real entry point (a subprocess), against
the regtest node: output, --json, exit codes, bad arguments, doctor, rescan."""

import datetime
import json
import os
import sqlite3
import subprocess
import sys

import pytest
from _cli import Lines, as_json, clean_env, one_line_error, run
from _daemon import Daemon, coin_config, wait_for

from transient.devnet.node import find_free_port


@pytest.fixture
def config(tmp_path, regtest, wallet):
    """A config file for the regtest node's fresh merchant wallet and an SQLite database."""
    path = tmp_path / "config.toml"
    path.write_text(
        '[database]\nurl = "sqlite:///%s"\nauto_migrate = true\n%s'
        % (tmp_path / "transient.db", coin_config(regtest, wallet))
    )
    return str(path)


def db_rows(config_path, sql, *params):
    db = config_path.replace("config.toml", "transient.db")
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


# -- payments ---------------------------------------------------------------------


def test_payments_create_show_list(config):
    made = as_json(
        run(
            "payments",
            "create",
            "--offline",
            "--currency",
            "ltc",
            "--amount",
            "1.5",
            "--account",
            "order-7",
            "--metadata",
            "order=7",
            "--metadata",
            "note=a=b",
            "--expires-in",
            "15m",
            "--confirmations",
            "2",
            "--json",
            "--config",
            config,
        )
    )
    assert (made["currency"], made["amount"], made["status"], made["account"]) == ("LTC", "1.5", "UNPAID", "order-7")
    assert made["metadata"] == {"order": "7", "note": "a=b"} and made["confirmations_required"] == 2
    created, expires = (datetime.datetime.fromisoformat(made[k].rstrip("Z")) for k in ("created_at", "expires_at"))
    assert abs((expires - created).total_seconds() - 900) < 1

    shown = run("--config", config, "payments", "show", made["id"])  # options before the command work too
    assert shown.returncode == 0, shown.stderr
    assert made["checkout_url"] == "/pay/%s" % made["id"]  # no [server] public_url here: relative
    for text in (made["id"], "1.5 LTC", made["payment_address"], "UNPAID", '{"note": "a=b", "order": "7"}', "/pay/"):
        assert text in shown.stdout
    assert as_json(run("payments", "show", made["id"], "--json", "--config", config)) == made

    other = as_json(
        run("payments", "create", "--offline", "--currency", "LTC", "--amount", "2", "--json", "--config", config)
    )
    listed = as_json(run("payments", "list", "--json", "--config", config))
    assert [p["id"] for p in listed["payments"]] == [other["id"], made["id"]] and listed["next_cursor"] is None
    page = as_json(run("payments", "list", "--limit", "1", "--json", "--config", config))
    assert [p["id"] for p in page["payments"]] == [other["id"]] and page["next_cursor"]
    rest = as_json(run("payments", "list", "--cursor", page["next_cursor"], "--json", "--config", config))
    assert [p["id"] for p in rest["payments"]] == [made["id"]]
    table = run("payments", "list", "--status", "unpaid", "--config", config)
    assert table.stdout.splitlines()[0].split() == ["ID", "CURRENCY", "AMOUNT", "RECEIVED", "STATUS", "CREATED"]
    assert {line.split()[0] for line in table.stdout.splitlines()[1:]} == {made["id"], other["id"]}
    assert run("payments", "list", "--status", "PAID", "--config", config).stdout.strip() == "no payments"


def test_idempotency_key(config):
    args = (
        "payments",
        "create",
        "--offline",
        "--currency",
        "LTC",
        "--amount",
        "1",
        "--idempotency-key",
        "order-9",
        "--json",
        "--config",
        config,
    )
    first, again = as_json(run(*args)), as_json(run(*args))
    assert first["id"] == again["id"]
    clash = run(
        "payments",
        "create",
        "--offline",
        "--currency",
        "LTC",
        "--amount",
        "2",
        "--idempotency-key",
        "order-9",
        "--config",
        config,
    )
    assert "--idempotency-key was used before" in one_line_error(clash, 1)


@pytest.mark.parametrize(
    "args, code, words",
    [
        (["--amount", "0"], 2, "--amount must be greater than zero"),
        (["--amount", "1.123456789"], 2, "--amount has more than 8 decimal places"),
        (["--amount", "ten"], 2, "--amount must be a plain decimal number"),
        (["--amount", "1", "--expires-in", "5x"], 2, "--expires-in expected a duration"),
        (["--amount", "1", "--metadata", "novalue"], 2, "--metadata expects KEY=VALUE"),
        (["--amount", "1", "--tolerance", "100"], 2, "--tolerance must be below 100"),
        (["--amount", "1", "--callback-url", "ftp://x"], 2, "--callback-url must be an absolute http"),
    ],
)
def test_create_rejects_bad_arguments(config, args, code, words):
    result = run("payments", "create", "--offline", "--currency", "LTC", *args, "--config", config)
    assert words in one_line_error(result, code)


def test_lookup_errors(config):
    assert "no payment with id nope" in one_line_error(run("payments", "show", "nope", "--config", config), 1)
    unknown = run("payments", "create", "--offline", "--currency", "XYZ", "--amount", "1", "--config", config)
    assert "unknown currency 'XYZ' (configured: LTC)" in one_line_error(unknown, 2)
    assert "--status must be one of" in one_line_error(run("payments", "list", "--status", "x", "--config", config), 2)
    assert "--limit must be between 1 and 500" in one_line_error(
        run("payments", "list", "--limit", "0", "--config", config), 2
    )


def test_node_down_is_a_failure_not_a_usage_error(tmp_path, config, regtest):
    path = tmp_path / "dead.toml"
    path.write_text(open(config).read().replace(regtest.rpc_url, "http://127.0.0.1:%d" % find_free_port()))
    result = run("payments", "create", "--offline", "--currency", "LTC", "--amount", "1", "--config", path)
    assert "cannot reach node at http://127.0.0.1:" in one_line_error(result, 1)


def test_config_errors_exit_2_naming_the_key(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[server]\nbnd = "x"\n')
    assert (
        one_line_error(run("payments", "list", "--config", bad), 2)
        == "transient: server.bnd: unknown key (did you mean bind?)"
    )
    bad.write_text('[coins.LTC]\nbackend = "nosuch"\nrpc_url = "http://127.0.0.1:1"\n')
    assert "coins.LTC.backend: unknown backend 'nosuch'" in one_line_error(run("payments", "list", "--config", bad), 2)
    missing = run("payments", "list", "--config", tmp_path / "nope.toml")
    assert "does not exist" in one_line_error(missing, 2)


def test_migrate_and_backends(tmp_path, regtest, wallet):
    path = tmp_path / "config.toml"
    path.write_text('[database]\nurl = "sqlite:///%s"\n%s' % (tmp_path / "fresh.db", coin_config(regtest, wallet)))
    assert "transient migrate" in one_line_error(run("payments", "list", "--config", path), 2)
    applied = as_json(run("migrate", "--json", "--config", path))["applied"]
    assert applied and applied[0].startswith("0001")
    assert run("migrate", "--config", path).stdout == "database is up to date\n"
    assert run("payments", "list", "--config", path).stdout == "no payments\n"

    rows = as_json(run("backends", "--json"))
    assert {"backend": "litecoin", "currency": "LTC", "plugin": "transient-litecoin", "version": "0.1.0"} in rows
    assert {r["backend"] for r in rows} >= {"dogecoin", "bitcoin", "litecoin"}
    text = run("backends").stdout.splitlines()
    assert text[0].split() == ["BACKEND", "CURRENCY", "PLUGIN", "VERSION"]
    assert ["dogecoin", "DOGE", "transient_backends.dogecoin", "built-in"] in [line.split() for line in text]


def test_watch_follows_a_payment_until_paid(config, regtest):
    made = as_json(
        run("payments", "create", "--offline", "--currency", "LTC", "--amount", "0.7", "--json", "--config", config)
    )
    watch = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "transient.cli",
            "payments",
            "watch",
            "--offline",
            made["id"],
            "--json",
            "--interval",
            "0.1",
            "--config",
            config,
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=clean_env(),
    )
    try:
        lines = Lines(watch)
        assert json.loads(lines.next())["status"] == "UNPAID"
        regtest.pay(made["payment_address"], "0.7")
        assert run("sync", "LTC", "--config", config).stdout == "LTC: synced\n"
        pending = json.loads(lines.next())
        assert (pending["status"], pending["amount_pending"]) == ("PENDING", "0.7")
        regtest.mine(1)
        assert as_json(run("sync", "ltc", "--json", "--config", config)) == {"currency": "LTC", "syncs": 1}
        paid = json.loads(lines.next())
        assert (paid["status"], paid["transactions"][0]["confirmations"]) == ("PAID", 1)
        assert watch.wait(30) == 0
    finally:
        watch.kill()
        watch.wait()
    human = run("payments", "watch", "--offline", made["id"], "--config", config)
    assert human.returncode == 0 and "PAID" in human.stdout and "received 0.7 of 0.7 LTC" in human.stdout


def test_watch_gives_up_or_ends_on_expiry(config):
    made = as_json(
        run(
            "payments",
            "create",
            "--offline",
            "--currency",
            "LTC",
            "--amount",
            "1",
            "--expires-in",
            "1s",
            "--json",
            "--config",
            config,
        )
    )
    still = run("payments", "watch", "--offline", made["id"], "--timeout", "0", "--config", config)
    assert "is still UNPAID after 0s" in one_line_error(still, 1)
    expires = datetime.datetime.fromisoformat(made["expires_at"].rstrip("Z"))
    wait_for(lambda: datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) > expires)
    run("sync", "LTC", "--config", config)
    expired = run("payments", "watch", "--offline", made["id"], "--config", config)
    assert expired.returncode == 1 and "EXPIRED" in expired.stdout


# -- notify -----------------------------------------------------------------------


@pytest.fixture
def daemon(tmp_path, regtest, wallet):
    """transientd on SQLite, polling only once an hour: syncs come from pings."""
    d = Daemon(str(tmp_path), "sqlite:///%s" % (tmp_path / "daemon.db"), coin_config(regtest, wallet, poll=3600))
    yield d.start()
    d.kill()


def test_notify_wakes_the_daemon(daemon, regtest):
    made = daemon.create(currency="LTC", amount="0.1")
    txid = regtest.pay(made["payment_address"], "0.1")
    result = run("notify", "transaction", "ltc", txid, "--config", daemon.config_path)
    assert (result.returncode, result.stdout) == (0, "LTC: sync requested\n"), result.stderr
    daemon.wait_status(made["id"], "PENDING", timeout=15)
    block = regtest.mine(1)[0]
    assert as_json(run("notify", "block", "LTC", block, "--json", "--config", daemon.config_path)) == {
        "currency": "LTC",
        "kind": "block",
        "hash": block,
        "accepted": True,
    }
    daemon.wait_status(made["id"], "PAID", timeout=15)

    assert "TXID must be 64 hexadecimal" in one_line_error(
        run("notify", "transaction", "LTC", "xyz", "--config", daemon.config_path), 2
    )
    assert "unknown currency 'DOGE'" in one_line_error(
        run("notify", "block", "DOGE", block, "--config", daemon.config_path), 2
    )
    daemon.stop()
    down = run("notify", "block", "LTC", block, "--config", daemon.config_path)
    assert "transientd is not reachable at http://127.0.0.1:%d" % daemon.port in one_line_error(down, 1)


# -- doctor -----------------------------------------------------------------------


def doctor_lines(result):
    return {line[6:24].strip(): (line[:4].strip(), line[24:]) for line in result.stdout.splitlines()}


def test_doctor_with_a_healthy_node(daemon):
    daemon.create(currency="LTC", amount="1")  # the network check compares a payment's address
    wait_for(lambda: daemon.get("/healthz").json()["coins"]["LTC"]["cursor_height"] is not None)
    result = run("doctor", "--no-roundtrip", "--config", daemon.config_path)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = doctor_lines(result)
    assert list(lines) == [
        "config",
        "plugins",
        "database",
        "migrations",
        "LTC node",
        "LTC credentials",
        "LTC chain",
        "LTC wallet",
        "LTC network",
        "LTC sync",
        "LTC notify",
        "LTC round trip",
    ]
    assert {status for name, (status, _) in lines.items() if name != "LTC round trip"} == {"OK"}
    assert lines["LTC round trip"] == ("SKIP", " walletnotify and blocknotify not tested (--no-roundtrip)")
    assert "on regtest" in lines["LTC chain"][1] and "accepts pings" in lines["LTC notify"][1]


def test_doctor_round_trip_finds_notify_not_wired(daemon):
    # The session's node runs without walletnotify/blocknotify. The daemon still polls
    # (hourly here), so the pings are optional: a warning with the line to add, no failure.
    report = as_json_any(run("doctor", "--json", "--notify-timeout", "1", "--config", daemon.config_path))
    checks = {c["name"]: c for c in report["checks"]}
    assert report["ok"] is True and checks["LTC notify"]["status"] == "ok"
    for kind, path in (("blocknotify", "block"), ("walletnotify", "transaction")):
        assert checks["LTC " + kind]["status"] == "warn"
        assert "still seen by the poll every 3600s" in checks["LTC " + kind]["detail"]
        assert (
            "%s=curl -s -X POST http://127.0.0.1:%d/notify/LTC/%s/%%s" % (kind, daemon.port, path)
            in checks["LTC " + kind]["fix"]
        )


def as_json_any(result):
    assert "Traceback" not in result.stderr, result.stderr
    return json.loads(result.stdout)


def test_doctor_with_a_stopped_node_and_a_wrong_setup(tmp_path, regtest, wallet):
    path = tmp_path / "config.toml"
    path.write_text(
        '[server]\nbind = "127.0.0.1:%d"\n[database]\nurl = "sqlite:///%s"\nauto_migrate = true\n'
        % (find_free_port(), tmp_path / "t.db")
        + coin_config(regtest, wallet).replace(regtest.rpc_url, "http://127.0.0.1:%d" % find_free_port())
        + coin_config(regtest, "not-loaded", currency="BTC", backend="bitcoin")
    )
    run("migrate", "--config", path)
    result = run("doctor", "--config", path)
    assert result.returncode == 1 and result.stderr == "3 problem(s) found\n"
    lines = doctor_lines(result)
    assert lines["LTC node"][0] == "FAIL" and "not reachable" in lines["LTC node"][1]
    assert "-> fix: start the node, or fix coins.LTC.rpc_url" in lines["LTC node"][1]
    assert "LTC wallet" not in lines  # nothing more to ask a node that does not answer
    assert lines["BTC chain"][0] == "FAIL" and "expects a Satoshi node" in lines["BTC chain"][1]
    assert lines["BTC wallet"][0] == "FAIL" and "'not-loaded' is not loaded" in lines["BTC wallet"][1]
    assert "loadwallet not-loaded" in lines["BTC wallet"][1]
    report = as_json_any(run("doctor", "--json", "--config", path))
    failed = [c for c in report["checks"] if c["status"] == "fail"]
    assert report["ok"] is False and len(failed) == 3 and all(c["fix"] for c in failed)
    assert "fix: fix" not in result.stdout


def test_doctor_a_missing_cookie_and_no_node_is_not_reachable(tmp_path, regtest):
    """A stopped node leaves no cookie file: that is "not reachable", never "OK node reachable"."""
    path = tmp_path / "config.toml"
    path.write_text(
        '[database]\nurl = "sqlite:///%s"\n[coins.LTC]\nbackend = "litecoin"\nrpc_url = "http://127.0.0.1:%d"\n'
        'rpc_cookie_file = "%s"\n' % (tmp_path / "t.db", find_free_port(), tmp_path / "regtest" / ".cookie")
    )
    lines = doctor_lines(run("doctor", "--no-roundtrip", "--config", path))
    assert lines["LTC node"][0] == "FAIL" and "nothing listens there" in lines["LTC node"][1]
    assert "LTC credentials" not in lines
    # The node up but its cookie unreadable: reachable, and the credentials fail.
    path.write_text(
        path.read_text().replace(path.read_text().split("rpc_url = ")[1].split("\n")[0], '"%s"' % regtest.rpc_url)
    )
    lines = doctor_lines(run("doctor", "--no-roundtrip", "--config", path))
    assert lines["LTC node"][0] == "OK" and lines["LTC credentials"][0] == "FAIL"
    assert "cannot read the RPC cookie file" in lines["LTC credentials"][1]


def test_doctor_database_and_config_problems(tmp_path, regtest, wallet):
    path = tmp_path / "config.toml"
    path.write_text('[database]\nurl = "sqlite:///%s"\n%s' % (tmp_path / "none.db", coin_config(regtest, wallet)))
    lines = doctor_lines(run("doctor", "--no-roundtrip", "--config", path))
    assert lines["database"][0] == "FAIL" and "run `transient migrate`" in lines["database"][1]
    assert not os.path.exists(tmp_path / "none.db")  # the doctor creates nothing
    sqlite3.connect(tmp_path / "none.db").close()  # an empty database: every migration pending
    lines = doctor_lines(run("doctor", "--no-roundtrip", "--config", path))
    assert lines["migrations"][0] == "FAIL" and "pending" in lines["migrations"][1]
    path.write_text("[database]\nurl = 5\n")
    result = run("doctor", "--config", path)
    assert result.returncode == 2 and result.stdout.startswith("FAIL  config") and "database.url" in result.stdout
    path.write_text('[coins.LTC]\nbackend = "litecoin"\nrpc_url = "http://127.0.0.1:1"\nrpc_pasword = "x"\n')
    result = run("doctor", "--config", path)
    assert result.returncode == 2 and "coins.LTC.rpc_pasword: unknown key (did you mean rpc_password?)" in result.stdout
    assert "-> fix: correct coins.LTC.rpc_pasword in %s" % path in result.stdout
    path.write_text("")
    result = run("doctor", "--config", path, env={"TRANSIENT_SERVER_WORKERS": "many"})
    assert "TRANSIENT_SERVER_WORKERS must be an integer" in result.stdout
    assert "-> fix: correct (or unset) the environment variable TRANSIENT_SERVER_WORKERS" in result.stdout


# -- rescan -----------------------------------------------------------------------


def ledger(config_path):
    payments = db_rows(config_path, "SELECT id, amount_received, amount_pending, status FROM payment ORDER BY id")
    receipts = db_rows(
        config_path, "SELECT txid, output, amount, state, block_hash, payment_id FROM receipt ORDER BY txid, output"
    )
    return payments, receipts


def wipe_ledger(config_path):
    """Lose every receipt and the payments' amounts, as a bad restore would; the cursor stays."""
    db_rows(config_path, "DELETE FROM receipt")
    db_rows(
        config_path, "UPDATE payment SET amount_received = 0, amount_pending = 0, status = 'UNPAID', paid_at = NULL"
    )


def test_rescan_rebuilds_a_deleted_ledger(config, regtest):
    made = [
        as_json(
            run(
                "payments", "create", "--offline", "--currency", "LTC", "--amount", amount, "--json", "--config", config
            )
        )
        for amount in ("0.3", "0.5")
    ]
    regtest.sendmany({made[0]["payment_address"]: "0.3", made[1]["payment_address"]: "0.2"})
    regtest.mine(1)
    regtest.pay(made[1]["payment_address"], "0.1")  # still unconfirmed
    run("sync", "LTC", "--config", config)
    before = ledger(config)
    assert [p[3] for p in before[0]] and sorted(p[3] for p in before[0]) == ["PAID", "UNDERPAID"]

    wipe_ledger(config)
    # Killed (as by a power cut) after its first batch: the ledger stays consistent...
    killed = run("rescan", "LTC", "--batch", "1", "--config", config, env={"TRANSIENT_FAULTS": "rescan.after_batch"})
    assert killed.returncode == -9
    assert len(ledger(config)[1]) == 2  # the unconfirmed receipt (the sync to the tip) and one replayed
    # ...and running it again finishes the job.
    report = as_json(run("rescan", "LTC", "--batch", "1", "--json", "--config", config))
    assert (report["outputs"], report["receipts_added"], report["matched"]) == (2, 1, False)
    assert ledger(config) == before
    again = as_json(run("rescan", "LTC", "--json", "--config", config))
    assert again["matched"] is True and again["payments_changed"] == []

    wipe_ledger(config)
    text = run("rescan", "ltc", "--config", config)
    assert text.returncode == 0, text.stderr
    assert "LTC: read 2 wallet output(s) in blocks 0-" in text.stdout
    assert "3 receipt(s) added, 0 updated, 2 payment(s) changed" in text.stdout
    assert "UNPAID -> PAID" in text.stdout and "0 -> 0.3" in text.stdout
    assert ledger(config) == before


def test_rescan_from_a_height_and_bad_arguments(config, regtest):
    made = as_json(
        run("payments", "create", "--offline", "--currency", "LTC", "--amount", "1", "--json", "--config", config)
    )
    regtest.pay(made["payment_address"], "1")
    height = regtest.rpc("getblockcount") + 1
    regtest.mine(2)
    run("sync", "LTC", "--config", config)
    wipe_ledger(config)
    above = as_json(run("rescan", "LTC", "--from-height", height + 1, "--json", "--config", config))
    assert (above["outputs"], above["receipts_added"]) == (0, 0)
    found = as_json(run("rescan", "LTC", "--from-height", height, "--json", "--config", config))
    assert (found["from_height"], found["outputs"], found["receipts_added"]) == (height, 1, 1)
    assert found["payments_changed"] == [
        {
            "id": made["id"],
            "before": {"amount_received": "0", "amount_pending": "0", "status": "UNPAID"},
            "after": {"amount_received": "1", "amount_pending": "0", "status": "PAID"},
        }
    ]
    assert "is above the chain tip" in one_line_error(
        run("rescan", "LTC", "--from-height", 10**6, "--config", config), 2
    )
    assert "unknown currency 'XYZ'" in one_line_error(run("rescan", "XYZ", "--config", config), 2)
