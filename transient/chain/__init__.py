"""Watching the chain: the CoinBackend interface and its value types, the plugin manager,
the per-coin Syncer (lease, listing, cursor), the ledger, the scheduler, rescans and the
walletnotify/blocknotify script.

May import core, store and delivery (the outbox it writes events into is passed in)."""
