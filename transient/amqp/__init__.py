"""The optional AMQP API: payment events on a topic exchange, payment commands on a queue.

Off unless ``[amqp] url`` is set. Then every outbox event also gets a delivery
row for the target ``amqp:<exchange>`` (written in the change's transaction, like
the webhooks'), which the publisher (:mod:`.publisher`) sends to the
broker with publisher confirms; and each worker process consumes the command
queue (:mod:`.commands`) on the same payments service as the HTTP API.

Both use pika, the client the RabbitMQ team maintains and documents: pure Python,
no dependencies, publisher confirms and per-thread connections without a
framework around them. Each side owns one connection in one thread and
reconnects with backoff on its own; a broker that is down is reported by
/healthz but never stops the HTTP API.

May import core, store, delivery (the publisher is a Dispatcher) and payments
(the commands' validation); the payments service is passed in.
"""
