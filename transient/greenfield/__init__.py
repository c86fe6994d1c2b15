"""BTCPay Greenfield's domain: invoices over the payments service, the invoice status
rule and its wire shapes, reading Greenfield's requests, the outbox projection of its
webhooks and the webhook service. The HTTP resources and pages stay in api/greenfield/.
May import core, store, delivery, chain and payments (rank 6, beside amqp: neither
imports the other)."""
