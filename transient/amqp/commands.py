"""AMQP commands: create, get and list payments over a request/reply queue.

A command is a message on the durable queue ``[amqp] rpc_queue`` whose ``type``
property names it (``payments.create``, ``payments.get``, ``payments.list``) and
whose body is the JSON the HTTP API takes. The answer goes to the default
exchange with the ``reply_to`` routing key and the request's ``correlation_id``:
the HTTP body, with the HTTP status in the ``status`` header. Validation and
errors are the payments service's, exactly as over HTTP.

The consumer acknowledges a command only after its reply was published (and
confirmed by the broker). A command whose connection dropped before that is
delivered again: ``payments.create`` therefore needs an idempotency key (the
``Idempotency-Key`` header, else the message_id), so the second delivery
answers with the payment the first one created. A message that fails and has
no ``reply_to`` is rejected to the dead-letter queue ``<rpc_queue>.dead``.

Keys as over HTTP, in the ``Authorization`` header: ``payments.create`` needs the
scope payments:create, ``payments.list`` payments:read, and ``payments.get`` answers
the public view without payments:read.
"""

import json
import logging
import threading

import pika

from ..core import faults
from ..core.errors import BadRequest, TransientError, ValidationError, error_body
from ..core.exactjson import parse_json
from ..core.keys import PAYMENTS_CREATE, PAYMENTS_READ, KeyRing
from .link import Backoff, Link, describe

log = logging.getLogger("transient.amqp")

PREFETCH = 4  # commands held per consumer: competing workers share the rest
IDLE = 0.5  # seconds between looks at the stop flag while the queue is empty
LIST_FIELDS = ("status", "currency", "limit", "cursor")


class TooLarge(BadRequest):
    code = "content_too_large"
    http_status = 413


class Reply:
    """What a command answers: an HTTP status, the HTTP body, extra headers."""

    __slots__ = ("status", "body", "headers", "created")

    def __init__(self, status, body, headers=None, created=False):
        self.status, self.body, self.headers, self.created = status, body, headers or {}, created


def dead_letter_names(queue):
    """The dead-letter exchange and queue of the command queue ``queue``."""
    return queue + ".dead-letter", queue + ".dead"


def declare(channel, queue):
    """Declare the durable command queue and its dead-letter exchange and queue."""
    dlx, dlq = dead_letter_names(queue)
    channel.exchange_declare(dlx, "fanout", durable=True)
    channel.queue_declare(dlq, durable=True)
    channel.queue_bind(dlq, dlx)
    channel.queue_declare(queue, durable=True, arguments={"x-dead-letter-exchange": dlx})


# -- the commands: parse, call the service, render (as the HTTP resources do) ----


def create(consumer, params, headers, props):
    consumer.keys.require(_text(headers.get("Authorization")), PAYMENTS_CREATE)
    key = _text(headers.get("Idempotency-Key")) or props.message_id
    if not key:
        raise BadRequest(
            "is required for payments.create (or an Idempotency-Key header): it makes a command"
            " delivered twice create one payment",
            "message_id",
        )
    payment, created = consumer.service.create(params, key)
    return Reply(
        201 if created else 200,
        {"success": True, "payment": consumer.service.renderer.render(payment, private=True)},
        {} if created else {"Idempotent-Replayed": True},
        created=created,
    )


def get(consumer, params, headers, props):
    _only(params, ("id",))
    if params.get("id") is None:
        raise ValidationError("is required", "id")
    grant = consumer.keys.identify(_text(headers.get("Authorization")))
    payment = consumer.service.get(params["id"])
    if grant.allows(PAYMENTS_READ):
        rendered = consumer.service.renderer.render(payment, private=True)
    else:  # as over HTTP: without the scope, the public view
        rendered = consumer.service.renderer.render_public(payment)
    return Reply(200, {"success": True, "payment": rendered})


def list_(consumer, params, headers, props):
    consumer.keys.require(_text(headers.get("Authorization")), PAYMENTS_READ)
    _only(params, LIST_FIELDS)
    for field in ("status", "currency", "cursor"):
        if params.get(field) is not None and not isinstance(params[field], str):
            raise ValidationError("must be a string", field)
    payments, cursor = consumer.service.list(**{f: params.get(f) for f in LIST_FIELDS})
    return Reply(
        200,
        {
            "success": True,
            "payments": consumer.service.renderer.render_many(payments, private=True),
            "next_cursor": cursor,
        },
    )


COMMANDS = {"payments.create": create, "payments.get": get, "payments.list": list_}


def _only(params, allowed):
    if not isinstance(params, dict):
        raise BadRequest("the message body must be a JSON object")
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ValidationError("unknown field", unknown[0])


def _text(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return None if value is None else str(value)


class CommandConsumer:
    """Consumes the command queue in its own thread (one BlockingConnection) until stopped."""

    def __init__(self, service, params, queue, max_body=65536, api_keys=(), prefetch=PREFETCH, link=None, url=None):
        self.service = service
        self.params = params
        self.queue = queue
        self.max_body = max_body
        self.keys = api_keys if isinstance(api_keys, KeyRing) else KeyRing(api_keys)  # or the runtime's
        self.prefetch = prefetch
        self.link = link or Link("commands")
        self.url = url  # only to scrub its password from error texts
        self.backoff = Backoff()
        self.handled = 0
        self._stop = threading.Event()
        self._thread = None

    def start(self):
        self._thread = threading.Thread(target=self._run, name="amqp-commands", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout=15):
        """Finish the command in hand, give prefetched ones back, disconnect."""
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join(timeout)
        self._thread = None

    def _run(self):
        while not self._stop.is_set():
            try:
                self._serve()
                error = None if self._stop.is_set() else "the broker cancelled the consumer (queue deleted?)"
            except (pika.exceptions.AMQPError, OSError) as exc:
                error = describe(exc, self.url)
            except Exception as exc:  # noqa: BLE001 - a bug must not end the consumer for good
                log.exception("amqp commands: unexpected error")
                error = describe(exc, self.url)
            if error is not None:
                self.link.down(error)
                self._stop.wait(self.backoff.next())
        self.link.stopped()

    def _serve(self):
        self.link.connecting()
        conn = pika.BlockingConnection(self.params)
        try:
            channel = conn.channel()
            declare(channel, self.queue)
            channel.basic_qos(prefetch_count=self.prefetch)
            channel.confirm_delivery()  # a reply counts once the broker has it; then the command is acked
            self.link.up()
            self.backoff.reset()
            for method, props, body in channel.consume(self.queue, inactivity_timeout=IDLE):
                if self._stop.is_set():
                    break
                if method is not None:
                    self.handle(channel, method, props, body)
            if channel.is_open:
                channel.cancel()  # prefetched commands go back to the queue for the other workers
        finally:
            if conn.is_open:
                try:
                    conn.close()
                except Exception:  # noqa: BLE001 - closing a dying connection
                    log.debug("amqp commands: close failed", exc_info=True)

    def handle(self, channel, method, props, body):
        """Run one command, publish its reply, then ack; without reply_to a failure is dead-lettered."""
        reply = self.execute(props, body)
        if reply.created:
            faults.point("amqp.before_reply")
        if props.reply_to:
            channel.basic_publish(
                "",
                props.reply_to,
                json.dumps(reply.body, separators=(",", ":")).encode(),
                pika.BasicProperties(
                    correlation_id=props.correlation_id,
                    content_type="application/json",
                    headers={"status": reply.status, **reply.headers},
                ),
            )
            channel.basic_ack(method.delivery_tag)
        elif reply.status < 400:
            channel.basic_ack(method.delivery_tag)
        else:
            log.warning(
                "amqp command %r (message %s) failed with no reply_to, dead-lettered: %s",
                props.type,
                props.message_id,
                reply.body["error"]["message"],
            )
            channel.basic_reject(method.delivery_tag, requeue=False)
        self.handled += 1

    def execute(self, props, body):
        """Return the Reply to one command; never raises."""
        try:
            if not props.type:
                raise BadRequest("is required: set it to %s" % _names(), "type")
            command = COMMANDS.get(props.type)
            if command is None:
                raise BadRequest("must be %s (got %r)" % (_names(), props.type[:80]), "type")
            if len(body) > self.max_body:
                raise TooLarge("the message body is larger than %d bytes" % self.max_body)
            params = parse_json(body) if body.strip() else {}
            return command(self, params, props.headers or {}, props)
        except TransientError as exc:
            return Reply(exc.http_status, error_body(exc))
        except Exception:  # noqa: BLE001 - a bug answers 500 like HTTP, and the consumer goes on
            log.exception("amqp command %r (message %s): unexpected error", props.type, props.message_id)
            return Reply(
                500,
                {
                    "success": False,
                    "error": {
                        "code": "internal_error",
                        "message": "internal error; the server log has the details",
                        "field": None,
                    },
                },
            )


def _names():
    return ", ".join(sorted(COMMANDS)[:-1]) + " or " + sorted(COMMANDS)[-1]
