"""Payouts: the fee actually paid (read from the node's transaction after the send: the
batch's whole fee, and each payout's share of it) and who approved each payout (an API
key, a dashboard user, the command line, or the coin's automatic approval)."""

from peewee import BigIntegerField, CharField
from playhouse.migrate import migrate


def up(migrator, db):
    migrate(
        # Payouts sent before this migration keep a null fee: it was not read then.
        migrator.add_column("payout_batch", "fee", BigIntegerField(null=True)),
        migrator.add_column("payout", "fee", BigIntegerField(null=True)),
        migrator.add_column("payout", "approved_by", CharField(max_length=160, null=True)),
    )


def down(migrator, db):
    migrate(
        migrator.drop_column("payout_batch", "fee"),
        migrator.drop_column("payout", "fee"),
        migrator.drop_column("payout", "approved_by"),
    )
