"""Several transientd daemons as separate hosts would run them: each its own process
tree, config file, port and lease holder id, all on ONE PostgreSQL database (a fresh one
on the shared server, reached through PgBouncer in transaction pooling mode, dropped
after) and one regtest node. Used by tests/e2e/test_cluster.py and bench/scale_out.py."""

import os
import re
import shutil
import tempfile
import uuid

from _daemon import Daemon, coin_config
from _db_fixtures import PG_URL
from _pgbouncer import PgBouncer, fresh_database

from transient.store.db import open_database

_SPAN = re.compile(r"^(\S+) DEBUG transient\.sync: (\w+): sync (start|end) pid=(\d+)", re.M)


class Cluster:
    """``start(n)`` runs ``n`` daemons on the coin config ``coins`` (TOML of [coins.X]) and
    the extra config ``extra``; ``url`` is the database URL they share (through PgBouncer
    unless ``bouncer=False``)."""

    def __init__(self, coins, extra="", bouncer=True, threads=4, workers=1, log_level="DEBUG"):
        self.coins, self.extra = coins, extra
        self.threads, self.workers, self.log_level = threads, workers, log_level
        # Not under pytest's 0700 tmp dirs: pgbouncer runs as the postgres user when we are root.
        self.dir = tempfile.mkdtemp(prefix="transient-cluster-")
        os.chmod(self.dir, 0o755)
        self.name, self._drop = fresh_database(PG_URL)
        self.direct_url = PG_URL.rsplit("/", 1)[0] + "/" + self.name
        self.bouncer = PgBouncer(os.path.join(self.dir, "pgbouncer"), self.name).start() if bouncer else None
        self.url = self.bouncer.url if bouncer else self.direct_url
        self.daemons = []
        self.retired = []  # daemons replaced by add(index=...): their logs still count
        self.db = None

    def start(self, n):
        for _ in range(n):
            self.add()
        self.db = open_database(self.direct_url)
        return self

    def add(self, env=None, index=None, host=None, healthy=True):
        """Start one more daemon (in its own directory: its own config and log); with
        ``index``, in place of the daemon at that index (which must be stopped); with
        ``host``, under that host name (a UTS namespace of its own: root only), so the
        others see its lease holder as another host's."""
        workdir = os.path.join(self.dir, "host-%s" % uuid.uuid4().hex[:6])
        os.makedirs(workdir)
        daemon = Daemon(
            workdir,
            self.url,
            self.coins,
            workers=self.workers,
            threads=self.threads,
            extra=self.extra,
            env=env,
            log_level=self.log_level,
            prefix=other_host(host) if host else (),
        )
        daemon.start(timeout=90, healthy=healthy)
        if index is None:
            self.daemons.append(daemon)
        else:
            self.retired.append(self.daemons[index])
            self.daemons[index] = daemon
        return daemon

    def spans(self, currency="LTC", daemons=None):
        """Every sync of ``currency`` each daemon logged: ``[(start, end, daemon index, pid)]``
        sorted by start (the log's timestamps: one clock, one host); an unfinished sync
        (its process killed) ends at None."""
        spans = []
        for i, daemon in enumerate(daemons or self.all_daemons()):
            open_ = {}
            for at, code, kind, pid in _SPAN.findall(daemon.log()):
                if code != currency:
                    continue
                if kind == "start":
                    open_[pid] = at
                elif pid in open_:
                    spans.append((open_.pop(pid), at, i, pid))
            spans += [(at, None, i, pid) for pid, at in open_.items()]
        return sorted(spans)

    def all_daemons(self):
        return self.daemons + self.retired

    def stop(self):
        for daemon in self.all_daemons():
            daemon.kill()
        if self.db is not None:
            self.db.close()
        if self.bouncer is not None:
            self.bouncer.stop()
        self._drop()
        shutil.rmtree(self.dir, ignore_errors=True)


def can_fake_a_host():
    """True when a daemon can get a host name of its own (root and util-linux's unshare)."""
    return os.geteuid() == 0 and shutil.which("unshare") is not None


def other_host(name):
    """The command prefix that runs a daemon under the host name ``name``."""
    return ["unshare", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"', name]


def cluster_coins(node, wallet, poll=1, pool=40):
    """The [coins.LTC] section the daemons share."""
    return coin_config(node, wallet, poll=poll) + "address_pool = %d\n" % pool
