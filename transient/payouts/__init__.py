"""Refunds and payouts: the outgoing side of the ledger (the service, the pure amount and
state rules, the batch sender, the watcher of destinations). May import core, store,
delivery, rates and chain; not payments, not the backends (a backend is passed in)."""
