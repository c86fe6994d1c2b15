"""Telling the merchant: the outbox (events written in the change's transaction), the
one writer of deliveries (``queue``) and the policy of each target kind (``kinds``), the
webhook dispatcher and sender, signatures, and the delivery admin (event log,
redelivery, test ping).

May import core and store; the renderer of payments is passed in. Nothing in it knows
the chain: the chain and the payments service write into it."""
