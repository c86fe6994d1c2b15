"""Faults of a real PostgreSQL server: end the backends of one test database (what a
restart, a failover or a proxy's idle timeout does to a daemon's connections)."""
from _db_fixtures import PG_URL


def terminate_backends(db_url):
    """pg_terminate_backend on every connection to ``db_url``'s database (never another
    database's); return how many were ended."""
    import psycopg2

    name = db_url.rsplit("/", 1)[1]
    assert name.startswith("transient_test_"), name  # only a test database of this session
    conn = psycopg2.connect(PG_URL)
    conn.autocommit = True
    try:
        cur = conn.cursor()
        cur.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
        return cur.fetchone()[0]
    finally:
        conn.close()
