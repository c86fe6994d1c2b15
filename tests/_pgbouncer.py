"""PgBouncer in transaction pooling mode in front of the machine's PostgreSQL, on a free
port with its own ini and userlist (auth: any): the scale-out tests and bench run the
daemons through it. A missing pgbouncer skips, or fails when TRANSIENT_REQUIRE_SERVICES=1."""

import os
import shutil
import subprocess
import time
import uuid

import psycopg2
from _services import _missing

from transient.devnet.node import find_free_port

BINARY = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"

INI = """[databases]
{name} = host=127.0.0.1 port=5432 dbname={name} user=postgres

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = any
auth_file = {dir}/userlist.txt
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = 500
admin_users = postgres
stats_users = postgres
ignore_startup_parameters = extra_float_digits,options
logfile = {dir}/pgbouncer.log
pidfile = {dir}/pgbouncer.pid
"""


class PgBouncer:
    """``start()`` runs pgbouncer for the database ``name`` of the shared server; ``url``
    is what a daemon connects to. As root it runs as the postgres user (it refuses root)."""

    def __init__(self, directory, name, pool_size=10):
        if not os.path.exists(BINARY):
            _missing("pgbouncer is not installed (apt-get install pgbouncer)")
        self.dir = str(directory)
        self.name = name
        self.port = find_free_port()
        self.pool_size = pool_size
        self.proc = None

    @property
    def url(self):
        return "postgresql://postgres@127.0.0.1:%d/%s" % (self.port, self.name)

    def start(self):
        os.makedirs(self.dir, exist_ok=True)
        ini = os.path.join(self.dir, "pgbouncer.ini")
        with open(ini, "w") as fh:
            fh.write(INI.format(name=self.name, port=self.port, dir=self.dir, pool_size=self.pool_size))
        with open(os.path.join(self.dir, "userlist.txt"), "w") as fh:
            fh.write('"postgres" ""\n')
        cmd = [BINARY, ini]
        if os.geteuid() == 0:
            for path in (self.dir, ini, os.path.join(self.dir, "userlist.txt")):
                shutil.chown(path, "postgres", "postgres")
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                psycopg2.connect(self.url, connect_timeout=2).close()
                return self
            except psycopg2.OperationalError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("pgbouncer did not start:\n%s" % self.log())

    def show(self, what):
        """Rows of the admin console's ``SHOW <what>`` (POOLS, STATS, CONFIG...) as dicts."""
        conn = psycopg2.connect("postgresql://postgres@127.0.0.1:%d/pgbouncer" % self.port)
        conn.autocommit = True
        try:
            cur = conn.cursor()
            cur.execute("SHOW %s" % what)
            names = [c[0] for c in cur.description]
            return [dict(zip(names, row)) for row in cur.fetchall()]
        finally:
            conn.close()

    def log(self):
        try:
            with open(os.path.join(self.dir, "pgbouncer.log"), errors="replace") as fh:
                return fh.read()[-3000:]
        except OSError:
            return ""

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def fresh_database(admin_url, prefix="transient_cluster_"):
    """Create a database on the shared server; return (name, drop) where drop() removes it."""
    name = prefix + uuid.uuid4().hex[:10]
    conn = psycopg2.connect(admin_url)
    conn.autocommit = True
    conn.cursor().execute("CREATE DATABASE %s" % name)
    conn.close()

    def drop():
        conn = psycopg2.connect(admin_url)
        conn.autocommit = True
        conn.cursor().execute("DROP DATABASE IF EXISTS %s WITH (FORCE)" % name)
        conn.close()

    return name, drop
