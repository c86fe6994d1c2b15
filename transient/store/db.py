"""The database: one proxy all models use, opened from a URL."""
import os

from peewee import DatabaseProxy, SqliteDatabase
from playhouse.db_url import connect

database = DatabaseProxy()

# Values per IN (...) list: a statement's bound parameters are limited (SQLite's
# SQLITE_MAX_VARIABLE_NUMBER: 999 before 3.32, 32766 since; PostgreSQL: 65535), and
# 500 stays under every one of them with room for the statement's other parameters.
IN_CHUNK = 500

_SQLITE_PRAGMAS = {
    "journal_mode": "wal",   # readers never wait for the sync's writer
    "synchronous": "normal",  # with WAL: durable at checkpoints, never corrupt
    "foreign_keys": 1,
    "busy_timeout": 10000,
    # Each thread has a connection, and each connection its own page cache (2 MB by
    # default): a dozen threads kept ~10 MB of pages the OS caches for them anyway.
    "cache_size": -512,  # KiB
}


def open_database(url):
    """Return a peewee Database for ``url`` and bind the models' proxy to it."""
    if url.startswith("sqlite"):
        # sqlite:///relative.db, sqlite:////absolute/path.db, sqlite:///:memory:
        path = url.split(":///", 1)[1] if ":///" in url else ""
        if path not in ("", ":memory:"):
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        db = SqliteDatabase(path or ":memory:", pragmas=_SQLITE_PRAGMAS, check_same_thread=False)
    else:
        db = connect(url)
    database.initialize(db)
    return db


def chunks(items, size=IN_CHUNK):
    """Yield consecutive slices of the sequence ``items``, each of at most ``size``
    (the last may be shorter; none for an empty sequence)."""
    for i in range(0, len(items), size):
        yield items[i:i + size]


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
            model._meta.table_name, where.replace("{p}", db.param), " ORDER BY %s" % order if order else "")
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
            model._meta.table_name, ", ".join('"%s"' % f.column_name for f in fields),
            ", ".join([db.param] * len(fields)))
    db.execute_sql(sql, [f.db_value(instance.__data__.get(f.name)) for f in fields])
