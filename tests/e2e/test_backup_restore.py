"""Backups and upgrades (docs/guides/backups-and-upgrades.md) on the litecoind regtest node:
a daemon's SQLite database copied live with SQLite's online backup, a new daemon on the copy
in another directory (a fresh host) catching up on what was paid and mined meanwhile and
never handing out again a pooled address the old host gave away after the copy, a copy
at an earlier migration going forward, and a copy migrated by a newer version refused in one
line."""

import os
import sqlite3
import subprocess
import sys

import pytest
from _daemon import ROOT, Daemon, coin_config, wait_for

from transient.store import migrations
from transient.store.db import open_database

pytestmark = pytest.mark.regtest


def backup(src, dst):
    """What `sqlite3 SRC ".backup DST"` does: SQLite's online backup, consistent while the
    daemon writes."""
    with sqlite3.connect(src) as source, sqlite3.connect(dst) as target:
        source.backup(target)


def daemon_on(directory, db_path, coins):
    os.makedirs(directory, exist_ok=True)
    return Daemon(str(directory), "sqlite:///%s" % db_path, coins)


def pooled(db_path):
    """The unclaimed pooled addresses of the database at ``db_path``."""
    with sqlite3.connect(db_path) as db:
        return {row[0] for row in db.execute("SELECT address FROM pooled_address WHERE claimed_at IS NULL")}


def test_a_restored_copy_catches_up_on_payments_made_meanwhile_and_upgrades_go_forward(tmp_path, regtest):
    coins = coin_config(regtest, regtest.create_wallet("backup-shop")) + "address_pool = 6\n"
    old_host = daemon_on(tmp_path / "old", tmp_path / "old" / "transient.db", coins).start()
    wait_for(lambda: old_host.get("/healthz").json()["coins"]["LTC"]["address_pool"] == 6)
    paid_before = old_host.create(currency="LTC", amount="0.5")
    paid_after = old_host.create(currency="LTC", amount="0.25", metadata={"order": 2})
    regtest.pay(paid_before["payment_address"], "0.5")
    regtest.mine(1)
    old_host.wait_status(paid_before["id"], "PAID")

    os.makedirs(tmp_path / "new")
    backup(str(tmp_path / "old" / "transient.db"), str(tmp_path / "new" / "transient.db"))
    upgrade_copy, newer_copy = tmp_path / "upgrade.db", tmp_path / "newer.db"
    backup(str(tmp_path / "new" / "transient.db"), str(upgrade_copy))
    backup(str(tmp_path / "new" / "transient.db"), str(newer_copy))
    in_the_copy = pooled(str(tmp_path / "new" / "transient.db"))
    # After the copy, the old host hands out a pooled address the copy holds as unclaimed.
    lost = old_host.create(currency="LTC", amount="0.1")
    assert lost["payment_address"] in in_the_copy

    # Meanwhile, after the copy: the second payment is paid and confirmed, and the host is lost.
    regtest.pay(paid_after["payment_address"], "0.25")
    regtest.mine(2)
    old_host.wait_status(paid_after["id"], "PAID")
    old_host.kill()

    new_host = daemon_on(tmp_path / "new", tmp_path / "new" / "transient.db", coins).start()
    try:
        restored = new_host.wait_status(paid_after["id"], "PAID", timeout=30)
        assert (restored["amount_received"], restored["metadata"]) == ("0.25", {"order": 2})
        assert new_host.payment(paid_before["id"])["amount_received"] == "0.5"
        events = new_host.get("/payments/%s/events" % paid_after["id"]).json()["events"]
        assert [e["type"] for e in events].count("payment.received") == 1  # caught up once, not twice
        # The copy's pool was dropped at start (its keeper had not stopped): none of its
        # addresses, the lost payment's among them, is handed out again.
        fresh = [new_host.create(currency="LTC", amount="0.01")["payment_address"] for _ in range(8)]
        assert len(set(fresh)) == 8 and not set(fresh) & in_the_copy, set(fresh) & in_the_copy
    finally:
        new_host.stop()

    # An upgrade: the copy taken back to an earlier migration, as the previous version left it.
    db = open_database("sqlite:///%s" % upgrade_copy)
    migrations.runner(db).down("0011_payouts")
    assert "0011_payouts" in migrations.pending(db)
    db.close()
    upgraded = daemon_on(tmp_path / "upgrade", upgrade_copy, coins).start()  # auto_migrate = true
    try:
        assert upgraded.wait_status(paid_before["id"], "PAID")["amount_received"] == "0.5"
        assert upgraded.get("/payouts").status_code == 200
    finally:
        upgraded.stop()
    db = open_database("sqlite:///%s" % upgrade_copy)
    assert migrations.pending(db) == []

    # A database a newer version migrated: refused at start, one line, exit 2.
    db = open_database("sqlite:///%s" % newer_copy)
    migrations.runner(db).History.create(name="9999_a_newer_version")
    db.close()
    older = daemon_on(tmp_path / "older", newer_copy, coins)
    run = subprocess.run(
        [sys.executable, os.path.join(ROOT, "transientd.py"), "--config", older.config_path, "--check"],
        capture_output=True,
        text=True,
        env=older.env,
        timeout=60,
    )
    assert run.returncode == 2, run.stderr
    lines = [line for line in run.stderr.splitlines() if "transientd:" in line]
    assert len(lines) == 1 and "newer than this Transient knows" in lines[0] and "9999_a_newer_version" in lines[0]
    assert "Traceback" not in run.stderr
