"""Reports for the accountant: payments, receipts and payouts as CSV or JSON lines,
streamed in keyset chunks, and the reconciliation of the ledger with a node's wallet.

May import core, store, chain (the backend interface the reconciliation reads) and
payouts (their states).
"""
