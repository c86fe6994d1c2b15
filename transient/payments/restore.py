"""A watch-only key after a restore: its next index moves past every index the old host
may have handed out.

The start-up guard (``Runtime.guard_pools``) sees the pool keeper's lease not given back:
a restored copy, but as well a crash (kill -9, power loss) or a daemon joining a running
cluster. Only the node can tell them apart, so the guard marks the key (:func:`mark`) and
the check runs before the key's next batch is derived (:func:`check_marked`, from
``WatchPool.new_rows``: the node is needed for that batch anyway): the daemon starts and
serves while the node is away, and hands out no derived address before the check passed.

The evidence of a newer host is the node watching the key BEYOND the database's own
``registered_end``: every batch is registered (``lookahead`` ahead) before its indexes are
reserved, so a restored copy is older than the range the old host went on registering as its
pool refilled. Without it, no host handed out an index at or past ``registered_end -
lookahead``: after a crash on an exact range (Litecoin, Dogecoin) that is the next index and
nothing is skipped; Bitcoin Core's range is padded to its keypool, which an old host may
derive inside with no trace on the node, so that padding is still skipped.

A database copied while a daemon ran (a restored backup) holds the key's ``next_index``
as it was then; the old host went on deriving. The witness of how far it went is the node:
the range its wallet watches for the key (registered by the old host before it handed any
of those addresses out, ``lookahead`` ahead). Every index whose address received anything
is inside that range (a wallet lists only receipts to addresses it watches).

The skip is remembered in the ``job_lease`` table (a row of its own, never claimed as a
lease) so that the gap report shows it: ``watch-skip:<coin>:<fingerprint>``, its holder
``"<first>-<end>"`` (end exclusive), its time the skip's.
"""

import logging

from ..core.clock import iso
from ..core.errors import NodeError
from ..store.db import write_transaction
from ..store.models import JobLease, WatchKey

log = logging.getLogger("transient.addresses")


WHY = "the last address pool keeper (%s) did not stop cleanly, or this database is a restored copy"


def _marker(pool):
    return "watch-skip:%s:%s" % (pool.currency, pool.fingerprint)


def _check(pool):
    return "watch-check:%s:%s" % (pool.currency, pool.fingerprint)


def mark(pool, holder):
    """Make ``pool``'s key wait for the check (:func:`check_marked`) before it derives again:
    ``holder`` held the keeper's lease and did not give it back."""
    row = {"name": _check(pool), "holder": (holder or "?")[:128], "expires_at": pool.clock()}
    with write_transaction(pool.db):
        JobLease.insert(**row).on_conflict(
            conflict_target=[JobLease.name], preserve=[JobLease.holder, JobLease.expires_at]
        ).execute()


def check_marked(pool):
    """When the guard marked ``pool``'s key: skip past what a newer host may have handed out
    (:func:`skip_handed_out`), then forget the mark; return how many indexes were skipped.
    Raises NodeError (the mark stays) when the node does not answer."""
    row = JobLease.get_or_none(JobLease.name == _check(pool))
    if row is None:
        return 0
    skipped = skip_handed_out(pool, WHY % row.holder)
    JobLease.delete().where((JobLease.name == row.name) & (JobLease.holder == row.holder)).execute()
    return skipped


def skip_handed_out(pool, why):
    """Move ``pool``'s (a WatchPool) next index past every index a newer host may have
    handed out; return how many indexes were skipped (0: none to skip). Raises NodeError
    (naming the coin) when the node does not answer: a restored copy must not derive
    before it knows."""
    row = pool.key_row()
    end, reason = _handed_out_end(pool, row, why)
    if end <= row.next_index:
        return 0  # a crash, or a daemon joining on the same database: nothing to skip
    with write_transaction(pool.db):
        WatchKey.update(next_index=end, registered_end=max(row.registered_end, end)).where(
            (WatchKey.id == row.id) & (WatchKey.next_index < end)
        ).execute()
        marker = {"name": _marker(pool), "holder": "%d-%d" % (row.next_index, end), "expires_at": pool.clock()}
        JobLease.insert(**marker).on_conflict(
            conflict_target=[JobLease.name], preserve=[JobLease.holder, JobLease.expires_at]
        ).execute()
    log.warning(
        "%s: %s: skipped %d watch-only indexes (%d to %d): %s, and the old host may have handed out any of them",
        pool.currency,
        why,
        end - row.next_index,
        row.next_index,
        end - 1,
        reason % (end - 1),
    )
    return end - row.next_index


def _handed_out_end(pool, row, why):
    """The end (exclusive) of the indexes a newer host may have handed out, and why (a
    sentence with a ``%d`` for its last index). Every index is registered ``lookahead``
    ahead before it is reserved: when the node watches the key beyond the database's
    registered end, a newer host registered that far; else no host handed out an index at
    or past ``registered_end - lookahead`` (after a crash: the database's next index,
    nothing is skipped; on Bitcoin Core, whose stored range is padded to its keypool, an old
    host may have derived inside the padding with no trace on the node)."""
    try:
        end = pool.backend.watched_end(pool.watch, row.next_index, pool.chain_name)
    except NodeError as exc:
        raise NodeError(
            "%s: %s, and the node must say how far the watch-only key was handed out before"
            " any new address is derived (the address pool asks again): %s" % (pool.currency, why, exc.message)
        ) from exc
    if end is None:
        log.warning(
            "%s: %s: the node cannot say how far the watch-only key was handed out: raise"
            " watch_key.next_index by hand (docs: backups and upgrades)",
            pool.currency,
            why,
        )
    elif end > row.registered_end:
        return end, "the node's wallet watches the key up to index %d"
    registered = row.registered_end - pool.lookahead
    return registered, "the key is registered a gap limit ahead of index %d"


def skipped(pool):
    """The last skip of ``pool``'s key: ``{"from", "to", "count", "at"}`` (``to``
    inclusive), or None."""
    row = JobLease.get_or_none(JobLease.name == _marker(pool))
    if row is None or not row.holder:
        return None
    first, _, end = row.holder.partition("-")
    return {"from": int(first), "to": int(end) - 1, "count": int(end) - int(first), "at": iso(row.expires_at)}
