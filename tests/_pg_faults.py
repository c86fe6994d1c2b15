"""Faults of a real PostgreSQL server: end the backends of one test database (what a
restart, a failover or a proxy's idle timeout does to a daemon's connections)."""

import glob
import os

import psycopg2
from _db_fixtures import PG_URL
from _services import _missing

from transient.devnet.node import find_free_port


def terminate_backends(db_url):
    """pg_terminate_backend on every connection to ``db_url``'s database (never another
    database's); return how many were ended."""
    name = db_url.rsplit("/", 1)[1]
    assert name.startswith("transient_test_"), name  # only a test database of this session
    conn = psycopg2.connect(PG_URL)
    conn.autocommit = True
    try:
        cur = conn.cursor()
        cur.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        return cur.fetchone()[0]
    finally:
        conn.close()


class PrivateCluster:
    """A PostgreSQL cluster of its own (initdb in a temp dir, another port) that a test may
    stop and start: never the machine's shared one. Runs as the postgres user when the
    tests run as root (the server refuses root)."""

    def __init__(self, directory):
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
        if not bins:  # a failure, not a skip, when TRANSIENT_REQUIRE_SERVICES=1 (CI)
            _missing("no PostgreSQL server binaries under /usr/lib/postgresql")
        self.bin = bins[-1]
        self.dir = str(directory)
        self.data = os.path.join(self.dir, "data")
        self.port = find_free_port()
        self.url = "postgresql://postgres@127.0.0.1:%d/transient_private" % self.port

    def _run(self, *args):
        import os
        import subprocess

        cmd = [os.path.join(self.bin, args[0])] + list(args[1:])
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, timeout=120)

    def init(self):
        import os
        import shutil

        os.makedirs(self.dir, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run("initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "--no-sync")
        self.start()
        import psycopg2

        conn = psycopg2.connect(self.url.rsplit("/", 1)[0] + "/postgres")
        conn.autocommit = True
        conn.cursor().execute("CREATE DATABASE transient_private")
        conn.close()
        return self

    def start(self):
        self._run(
            "pg_ctl",
            "-D",
            self.data,
            "-w",
            "-l",
            self.data + "/../server.log",
            "-o",
            "-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off" % (self.port, self.dir),
            "start",
        )

    def stop(self):
        self._run("pg_ctl", "-D", self.data, "-w", "-m", "fast", "stop")

    def destroy(self):
        import shutil

        try:
            self.stop()
        except Exception:  # noqa: BLE001 - already stopped
            pass
        shutil.rmtree(self.dir, ignore_errors=True)
