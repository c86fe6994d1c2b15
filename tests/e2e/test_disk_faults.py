"""SQLite on a file system that takes no writes: read-only at start-up is one line and
exit 2 (not three tracebacks), and a full disk is not "ok" in /healthz. Real file
systems: a small tmpfs mounted for the test (root only), remounted read-only or filled."""

import contextlib
import os
import subprocess
import sys

from _daemon import ROOT, Daemon, wait_for
from _services import _missing

from transient.devnet.node import find_free_port
from transient.store import migrations
from transient.store.db import open_database


@contextlib.contextmanager
def tmpfs(path, size):
    if os.geteuid() != 0:
        _missing("mounting a tmpfs for the disk-fault tests needs root")
    os.makedirs(path, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s" % size, "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def _migrated(path):
    url = "sqlite:///%s" % path
    db = open_database(url)
    migrations.apply(db)
    db.close()
    return url


def test_a_read_only_sqlite_database_at_start_is_one_line_and_exit_2(tmp_path):
    with tmpfs(tmp_path / "ro", "4m") as mnt:
        url = _migrated(mnt / "transient.db")
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        config = tmp_path / "config.toml"
        config.write_text(
            '[server]\nbind = "127.0.0.1:%d"\n[database]\nurl = "%s"\nauto_migrate = true\n' % (find_free_port(), url)
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRANSIENT_")}
        run = subprocess.run(
            [sys.executable, os.path.join(ROOT, "transientd.py"), "--config", str(config)],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr and run.stderr.strip().count("\n") == 0, run.stderr
    assert "database.url" in run.stderr and "read-only" in run.stderr


def test_a_full_disk_is_not_ok_in_healthz(tmp_path):
    with tmpfs(tmp_path / "small", "8m") as mnt:
        daemon = Daemon(str(tmp_path), _migrated(mnt / "transient.db"), "")
        daemon.start()
        try:
            assert daemon.get("/healthz").json()["database"] == "ok"
            filler = mnt / "filler"
            with open(filler, "wb") as fh:  # every byte left, as a log or a backup would
                with contextlib.suppress(OSError):
                    while True:
                        fh.write(b"\0" * 65536)
                        fh.flush()
            health = daemon.get("/healthz")
            assert health.status_code == 503 and health.json()["database"].startswith("disk full"), health.text
            filler.unlink()
            wait_for(lambda: daemon.get("/healthz").json()["database"] == "ok", timeout=10)
        finally:
            daemon.kill()
