"""The database: one proxy all models use, opened from a URL.

On PostgreSQL a lost connection (a database restart, a failover, a proxy's idle
timeout, ``pg_terminate_backend``) is replaced on the next use: a statement outside a
transaction is sent again once on a new connection; inside a transaction the error is
raised, the transaction is given up whole, and ``retry_once`` runs the caller's whole
unit of work again once (never a part of it). ``db.outages`` keeps what /healthz shows.
"""

import contextlib
import datetime
import logging
import os
import threading

import peewee
from peewee import DatabaseProxy, InterfaceError, OperationalError, PostgresqlDatabase, SqliteDatabase

from ..core.errors import ConfigError
from .checkpoints import AUTOCHECKPOINT

log = logging.getLogger("transient.db")

database = DatabaseProxy()

# Values per IN (...) list: a statement's bound parameters are limited (SQLite's
# SQLITE_MAX_VARIABLE_NUMBER: 999 before 3.32, 32766 since; PostgreSQL: 65535), and
# 500 stays under every one of them with room for the statement's other parameters.
IN_CHUNK = 500

_SQLITE_PRAGMAS = {
    "journal_mode": "wal",  # readers never wait for the sync's writer
    "synchronous": "normal",  # with WAL: durable at checkpoints, never corrupt
    "foreign_keys": 1,
    "busy_timeout": 10000,
    # Each thread has a connection, and each connection its own page cache (2 MB by
    # default): a dozen threads kept ~10 MB of pages the OS caches for them anyway.
    "cache_size": -512,  # KiB
    # A commit checkpoints only past this; each worker's Checkpointer does it in between.
    "wal_autocheckpoint": AUTOCHECKPOINT,  # pages
}


CONNECT_TIMEOUT = 5  # seconds: an unreachable server fails a request, it does not hang it
MERGE = datetime.timedelta(seconds=5)  # failures this soon after a recovery belong to the same outage


class Outages:
    """What this process saw of the database going away: when the current outage began,
    how many there were, the last error and how long the last one lasted.

    ``transition`` (set by the runtime: an ops.logs.Transition) has ``down()`` and
    ``up()``, True for the one process of the daemon that says the change: the down
    and up lines are logged once, not once per worker."""

    transition = None

    def __init__(self):
        self._lock = threading.Lock()
        self.down_since = None
        self.count = 0
        self.last_error = None
        self.last_error_at = None
        self.last_recovered_at = None
        self.last_seconds = None
        self._since = None

    def failed(self, exc):
        now = datetime.datetime.now(datetime.timezone.utc)
        text = "%s: %s" % (exc.__class__.__name__, (str(exc).strip().splitlines() or [""])[0][:200])
        with self._lock:
            if self.down_since is None:
                if self.last_recovered_at is not None and now - self.last_recovered_at < MERGE:
                    # Another thread's connection from before the same outage: one outage.
                    self.down_since = self._since
                else:
                    self.down_since = now
                    self.count += 1
                    if self.transition is None or self.transition.down():
                        log.warning(
                            "database connection lost (%s), down; reconnecting on the next use",
                            text,
                            extra={"event": "database.down", "error": text},
                        )
            self.last_error, self.last_error_at = text, now

    def recovered(self):
        now = datetime.datetime.now(datetime.timezone.utc)
        with self._lock:
            if self.down_since is None:
                return
            self.last_seconds = round((now - self.down_since).total_seconds(), 3)
            self._since, self.down_since, self.last_recovered_at = self.down_since, None, now
        if self.transition is None or self.transition.up():
            log.info(
                "database reachable again after %.1fs, up",
                self.last_seconds,
                extra={"event": "database.up", "duration_ms": int(self.last_seconds * 1000)},
            )

    def report(self):
        iso = lambda t: t.isoformat().replace("+00:00", "Z") if t else None  # noqa: E731
        with self._lock:
            return {
                "down_since": iso(self.down_since),
                "outages": self.count,
                "last_error": self.last_error,
                "last_error_at": iso(self.last_error_at),
                "last_recovered_at": iso(self.last_recovered_at),
                "last_outage_seconds": self.last_seconds,
            }


class ReconnectingPostgresqlDatabase(PostgresqlDatabase):
    """PostgreSQL whose dead connections are replaced on the next use (see the module's text)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("connect_timeout", CONNECT_TIMEOUT)
        super().__init__(*args, **kwargs)
        self.outages = Outages()

    def connection_lost(self):
        """True when this thread's connection is gone (or could not be opened)."""
        state = self._state
        return state.closed or bool(getattr(state.conn, "closed", 0))

    def _drop(self):
        # The server side is gone: forget the connection without talking to it.
        conn = self._state.conn
        self._state.reset()
        try:
            if conn is not None:
                conn.close()
        except Exception:  # noqa: BLE001 - it is already broken
            pass

    def execute_sql(self, sql, params=None):
        try:
            cursor = super().execute_sql(sql, params)
        except (OperationalError, InterfaceError) as exc:
            if not self.connection_lost():
                raise
            self.outages.failed(exc)
            if self.in_transaction():
                raise  # the transaction is lost whole: its owner decides (retry_once)
            self._drop()
            try:
                cursor = super().execute_sql(sql, params)  # a new connection, the statement once more
            except (OperationalError, InterfaceError) as again:
                if self.connection_lost():
                    self.outages.failed(again)
                    if not self.in_transaction():
                        self._drop()
                raise
        if self.outages.down_since is not None:
            self.outages.recovered()
        return cursor

    def begin(self, *args, **kwargs):
        if not self.in_transaction() and self.connection_lost() and not self._state.closed:
            self._drop()  # BEGIN on a dead connection: start on a new one
        try:
            return super().begin(*args, **kwargs)
        except (OperationalError, InterfaceError) as exc:
            if self.connection_lost():
                self.outages.failed(exc)
            raise

    def rollback(self):
        if self.connection_lost():
            return  # the server dropped the transaction with the connection
        super().rollback()


def connection_lost(db, exc):
    """True when ``exc`` (raised by ``db``) means the connection went away."""
    return (
        isinstance(exc, (OperationalError, InterfaceError))
        and isinstance(db, ReconnectingPostgresqlDatabase)
        and db.connection_lost()
    )


def retry_once(db, fn, *args, **kwargs):
    """Run ``fn`` (a whole unit of work: its own transactions, re-reading what it needs)
    and, when it failed because the connection went away, once more on a new connection.

    Only for work that is safe to run again from the start, also when its first commit
    went through and only the answer was lost. Inside a transaction it runs once: the
    outer transaction is the unit to retry.
    """
    if db.in_transaction():
        return fn(*args, **kwargs)
    try:
        return fn(*args, **kwargs)
    except (OperationalError, InterfaceError) as exc:
        if not connection_lost(db, exc) or db.in_transaction():
            raise
        log.warning(
            "database connection lost during %s; running it again from the start",
            getattr(fn, "__name__", "a transaction"),
        )
        db._drop()
    return fn(*args, **kwargs)


# PostgreSQL refuses a write: read_only_sql_transaction (a standby after a fail-over,
# default_transaction_read_only), and class 53, insufficient resources (a full disk).
_REFUSED_WRITE = ("25006", "53")
LOW_DISK = 1024 * 1024  # bytes free under which an SQLite database counts as on a full disk


def refused_write(exc):
    """True when ``exc`` (a peewee error) is the database refusing writes while it still
    answers: read-only, or out of disk. An outage like a lost connection (503), not a bug."""
    if not isinstance(exc, peewee.DatabaseError):
        return False
    code = getattr(getattr(exc, "orig", None), "pgcode", None) or ""
    if code.startswith(_REFUSED_WRITE):
        return True
    text = str(exc)
    return isinstance(exc, OperationalError) and ("readonly database" in text or "disk is full" in text)


def write_problem(db):
    """None when ``db`` takes writes as far as a cheap look tells, else what stops them:
    "read-only" (PostgreSQL in a read-only transaction or recovery, an SQLite file or
    file system that cannot be written) or "disk full" (SQLite: under 1 MiB free)."""
    if isinstance(db, PostgresqlDatabase):
        row = db.execute_sql("SELECT current_setting('transaction_read_only'), pg_is_in_recovery()").fetchone()
        return "read-only" if row[0] == "on" or row[1] else None
    path = getattr(db, "database", "") if isinstance(db, SqliteDatabase) else ""
    if path in ("", ":memory:"):
        return None
    folder = os.path.dirname(os.path.abspath(path))
    fs = os.statvfs(folder)
    if fs.f_flag & os.ST_RDONLY or not os.access(folder, os.W_OK):
        return "read-only"
    if fs.f_bavail * fs.f_frsize < LOW_DISK:
        return "disk full (%d KiB free)" % (fs.f_bavail * fs.f_frsize // 1024)
    return None


@contextlib.contextmanager
def opening(db):
    """Turn SQLite's failure to open or write its file (a read-only file system, a full
    disk) into a ConfigError naming database.url: one line at start-up, exit 2."""
    try:
        yield
    except OperationalError as exc:
        if not isinstance(db, SqliteDatabase):
            raise
        raise ConfigError(
            "database.url: cannot write the SQLite database %s (%s; %s): it needs a writable file and"
            " directory (for its -wal and -shm files) and free disk" % (db.database, exc, write_problem(db) or "?"),
            field="database.url",
        ) from None


def open_database(url):
    """Return a peewee Database for ``url`` and bind the models' proxy to it."""
    if url.startswith("sqlite"):
        # sqlite:///relative.db, sqlite:////absolute/path.db, sqlite:///:memory:
        path = url.split(":///", 1)[1] if ":///" in url else ""
        if path not in ("", ":memory:"):
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        db = SqliteDatabase(path or ":memory:", pragmas=_SQLITE_PRAGMAS, check_same_thread=False)
        db.outages = Outages()  # nothing to lose: a file
    elif url.split("://", 1)[0] in ("postgres", "postgresql"):
        _require_postgres_driver()
        from playhouse.db_url import parse  # here: it loads every backend's module (~0.6 MB)

        db = ReconnectingPostgresqlDatabase(**parse(url))
    else:
        from playhouse.db_url import connect

        db = connect(url)
        db.outages = Outages()
    database.initialize(db)
    return db


def _require_postgres_driver():
    """Raise ConfigError naming database.url and the install command when psycopg2 is
    missing (``pip install .`` without the extra): peewee would only fail at the first
    connection, with a traceback."""
    if peewee.psycopg2 is None:
        raise ConfigError(
            "database.url is a PostgreSQL URL, but its driver (psycopg2) is not installed:"
            " pip install 'transient[postgres]'",
            field="database.url",
        )


def chunks(items, size=IN_CHUNK):
    """Yield consecutive slices of the sequence ``items``, each of at most ``size``
    (the last may be shorter; none for an empty sequence)."""
    for i in range(0, len(items), size):
        yield items[i : i + size]


def is_sqlite(db=None):
    return isinstance((db or database.obj), SqliteDatabase)


def write_transaction(db=None):
    """Return a transaction context that takes the write lock up front.

    On SQLite a deferred transaction that reads and then writes can fail with
    "database is locked" when another process wrote in between; BEGIN IMMEDIATE
    waits for the lock (busy_timeout) instead.
    """
    db = db or database.obj
    if is_sqlite(db):
        return db.atomic("IMMEDIATE")
    return db.atomic()


_SQL = {}


def select_where(model, where, *params, order=None):
    """Return the ``model`` rows matching ``where`` (SQL with ``{p}`` for each parameter),
    as model instances with converted values.

    The statement's text is made once and kept: on the hot read paths (every GET of a
    payment) peewee spent longer building a query's SQL than the database running it.
    Parameters are given as the database stores them (``Model.field.db_value(v)``).
    """
    db = model._meta.database
    key = (model, where, order, db.param)
    sql = _SQL.get(key)
    if sql is None:
        sql = _SQL[key] = 'SELECT * FROM "%s" WHERE %s%s' % (
            model._meta.table_name,
            where.replace("{p}", db.param),
            " ORDER BY %s" % order if order else "",
        )
    return list(model.raw(sql, *params))


def insert(instance):
    """INSERT ``instance`` (every column, primary key included) with the statement's text
    made once per model: the API's payment insert, on every POST."""
    model = instance.__class__
    db = model._meta.database
    fields = model._meta.sorted_fields
    key = (model, "insert", db.param)
    sql = _SQL.get(key)
    if sql is None:
        sql = _SQL[key] = 'INSERT INTO "%s" (%s) VALUES (%s)' % (
            model._meta.table_name,
            ", ".join('"%s"' % f.column_name for f in fields),
            ", ".join([db.param] * len(fields)),
        )
    db.execute_sql(sql, [f.db_value(instance.__data__.get(f.name)) for f in fields])


def save_fields(model, fields, rows):
    """Store ``fields`` of many ``model`` rows: one UPDATE statement executed for every
    row (executemany), not a query built per row (a block confirms and pays thousands)."""
    if not rows:
        return
    db = model._meta.database
    mark, pk = db.param, model._meta.primary_key
    sql = 'UPDATE "%s" SET %s WHERE "%s" = %s' % (
        model._meta.table_name,
        ", ".join('"%s" = %s' % (f.column_name, mark) for f in fields),
        pk.column_name,
        mark,
    )
    db.cursor().executemany(
        sql, [[f.db_value(getattr(r, f.name)) for f in fields] + [pk.db_value(r._pk)] for r in rows]
    )
