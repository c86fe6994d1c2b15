"""The payments service: create, read and list payments. The API and the CLI
both call this; neither holds payment logic of its own."""
import base64
import datetime
import hashlib
import json
import re
import threading
import uuid
from collections import OrderedDict
from decimal import Decimal
from urllib.parse import urlsplit

from peewee import IntegrityError

from . import outbox, status as st
from .db import insert, select_where, write_transaction
from .errors import BadRequest, Conflict, NotFound, UnknownCurrency, ValidationError
from .ledger import confirmations
from .models import ChainState, Payment, Receipt, utcnow
from .money import format_amount, parse_amount

CREATE_FIELDS = {"currency", "amount", "account", "metadata", "confirmations",
                 "underpayment_tolerance", "expires_in", "expires_at", "callback_url", "redirect_url"}
MAX_URL = 2048
MAX_EXPIRY = datetime.timedelta(days=365)
MIN_EXPIRY = datetime.timedelta(seconds=1)
LIST_LIMIT, LIST_MAX = 50, 500
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
RENDERED_CACHE = 1024  # payments whose GET body a worker keeps (~2 KB each)


class RenderedCache:
    """The GET bodies of recently read payments, each with the payment's row and the
    coin's tip height it was rendered from.

    A read fetches that row and height in one query and serves the kept body only
    when both are exactly as they were: every change to a payment (a status, an amount,
    a receipt, which always recomputes the payment and moves ``updated_at``, an event,
    which moves ``event_seq``) changes its row, and confirmations follow the tip. So a
    body is never stale, in one worker or many; a checkout page polling its payment
    costs one indexed query instead of four and a render.
    """

    def __init__(self, size=RENDERED_CACHE):
        self.size = size
        self._items = OrderedDict()  # payment id -> (row, body)
        self._lock = threading.Lock()

    def get(self, pid, row):
        if not self.size:
            return None
        with self._lock:
            kept = self._items.get(pid)
            if kept is None or kept[0] != row:
                return None
            self._items.move_to_end(pid)
            return kept[1]

    def put(self, pid, row, body):
        if not self.size:
            return
        with self._lock:
            self._items[pid] = (row, body)
            self._items.move_to_end(pid)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


class PaymentService:
    """``coins`` maps a currency code to ``(backend, options)``."""

    def __init__(self, coins, clock=utcnow, uuidgen=uuid.uuid4, db=None, webhook_url=None, pools=None,
                 read_cache=RENDERED_CACHE):
        self.coins = coins
        self.clock = clock
        self.uuidgen = uuidgen
        self.db = db
        self.outbox = outbox.Outbox(webhook_url, renderer=self)
        self.pools = pools or {}  # currency -> addresses.AddressPool
        self.rendered = RenderedCache(read_cache)
        self._row_fields = Payment._meta.sorted_fields
        self._row_sql = None  # made at the first read: the placeholder is the database's

    # -- create ---------------------------------------------------------------

    def create(self, body, idempotency_key=None):
        """Create a payment from a request body; return ``(payment, created)``.

        With an ``idempotency_key`` seen before, returns the payment it created
        (``created`` False) if the body is the same, else raises Conflict.
        Raises ValidationError/BadRequest for bad input and NodeError when the
        node cannot hand out an address.
        """
        fields = self.validate(body)
        digest = None
        if idempotency_key is not None:
            if not _KEY.match(idempotency_key):
                raise BadRequest("must be 1-255 printable ASCII characters", "Idempotency-Key")
            digest = _body_hash(body)
            replay = self._replay(idempotency_key, digest)
            if replay is not None:
                return replay, False
        now = self.clock()
        payment = Payment(
            id=self.uuidgen(), address=None, status=st.UNPAID, created_at=now, updated_at=now,
            idempotency_key=idempotency_key, request_hash=digest, **fields,
        )
        events = self.outbox.batch(now)
        try:
            pool = self.pools.get(payment.currency)
            if pool is not None:
                # A pooled address, claimed in the insert's transaction: no node round trip.
                with write_transaction(self.db):
                    payment.address = pool.take(payment.account)
                    if payment.address is not None:
                        self._insert(payment, events)
            if payment.address is None:
                # No pool, or it is empty: ask the node, outside any transaction.
                backend, _ = self.coins[payment.currency]
                payment.address = backend.new_address(payment.account)
                with write_transaction(self.db):
                    self._insert(payment, events)
        except IntegrityError:
            # A concurrent request with the same key won the race.
            replay = idempotency_key and self._replay(idempotency_key, digest)
            if replay:
                return replay, False
            raise
        self.outbox.written(events)
        return payment, True

    def _insert(self, payment, events):
        insert(payment)
        events.add(payment, outbox.CREATED, {"status": st.UNPAID})
        events.write()

    def _replay(self, key, digest):
        existing = Payment.get_or_none(Payment.idempotency_key == key)
        if existing is None:
            return None
        if existing.request_hash != digest:
            raise Conflict("was used before with a different request body", "Idempotency-Key")
        return existing

    def validate(self, body):
        """Return the model fields for a create request body, or raise naming the field."""
        if not isinstance(body, dict):
            raise BadRequest("the request body must be a JSON object")
        unknown = sorted(set(body) - CREATE_FIELDS)
        if unknown:
            raise ValidationError("unknown field", unknown[0])
        currency = body.get("currency")
        if not isinstance(currency, str) or not currency:
            raise ValidationError("is required", "currency")
        currency = currency.upper()
        if currency not in self.coins:
            raise UnknownCurrency("unknown currency %r (configured: %s)" % (currency, ", ".join(sorted(self.coins))),
                                  "currency")
        backend, options = self.coins[currency]
        if "amount" not in body or body["amount"] is None:
            raise ValidationError("is required", "amount")
        fields = {
            "currency": currency,
            "amount": parse_amount(body["amount"], "amount", backend.max_money, backend.decimals),
            "account": _optional_str(body, "account", 255),
            "metadata": _metadata(body.get("metadata")),
            "confirmations_required": _int_field(body, "confirmations", 0, 1000, options["confirmations"]),
            "tolerance_bp": _tolerance(body.get("underpayment_tolerance", options["underpayment_tolerance"])),
            "expires_at": self._expiry(body, options["expires_in"]),
            "callback_url": check_url(body.get("callback_url"), "callback_url"),
            "redirect_url": check_url(body.get("redirect_url"), "redirect_url"),
        }
        return fields

    def _expiry(self, body, default_seconds):
        given = [k for k in ("expires_in", "expires_at") if body.get(k) is not None]
        if len(given) == 2:
            raise ValidationError("give expires_in or expires_at, not both", "expires_at")
        now = self.clock()
        if not given:
            return now + datetime.timedelta(seconds=default_seconds) if default_seconds else None
        if given[0] == "expires_in":
            seconds = _int_field(body, "expires_in", int(MIN_EXPIRY.total_seconds()),
                                 int(MAX_EXPIRY.total_seconds()), None)
            return now + datetime.timedelta(seconds=seconds)
        at = parse_time(body["expires_at"], "expires_at")
        if not now + MIN_EXPIRY <= at <= now + MAX_EXPIRY:
            raise ValidationError("must be in the future, at most 365 days ahead", "expires_at")
        return at

    # -- read -----------------------------------------------------------------

    def get(self, payment_id):
        """Return the Payment with ``payment_id`` or raise NotFound."""
        pid = self._parse_id(payment_id)
        found = select_where(Payment, '"id" = {p}', Payment.id.db_value(pid))
        if not found:
            raise NotFound("no payment with id %s" % pid, "id")
        return found[0]

    def get_json(self, payment_id):
        """Return the GET body of a payment (``{"success": true, "payment": ...}``) as
        JSON bytes, from the RenderedCache when the payment has not changed since."""
        pid = self._parse_id(payment_id)
        db = Payment._meta.database
        if self._row_sql is None:
            # Every column by name (a migration may add columns in another order) and
            # the coin's tip height, for the confirmations of the receipts.
            self._row_sql = 'SELECT %s, (SELECT "cursor_height" FROM "%s" WHERE "currency" = p."currency") ' \
                'FROM "%s" AS p WHERE p."id" = %s' % (
                    ", ".join('p."%s"' % f.column_name for f in self._row_fields), ChainState._meta.table_name,
                    Payment._meta.table_name, db.param)
        row = db.execute_sql(self._row_sql, [Payment.id.db_value(pid)]).fetchone()
        if row is None:
            raise NotFound("no payment with id %s" % pid, "id")
        body = self.rendered.get(pid, row)
        if body is None:
            payment = Payment(**{f.name: f.python_value(v) for f, v in zip(self._row_fields, row)})
            payment._dirty.clear()
            body = json.dumps({"success": True, "payment": self.render(payment, tip_height=row[-1])},
                              ensure_ascii=False).encode()
            self.rendered.put(pid, row, body)
        return body

    def _parse_id(self, payment_id):
        try:
            return payment_id if isinstance(payment_id, uuid.UUID) else uuid.UUID(str(payment_id))
        except ValueError:
            raise NotFound("no payment with id %s" % payment_id, "id") from None

    def list(self, status=None, currency=None, limit=None, cursor=None):
        """Return ``(payments, next_cursor)``, newest first; ``next_cursor`` is None on the last page."""
        query = Payment.select()
        if status is not None:
            if status.upper() not in st.STATUSES:
                raise ValidationError("must be one of %s" % ", ".join(st.STATUSES), "status")
            query = query.where(Payment.status == status.upper())
        if currency is not None:
            query = query.where(Payment.currency == currency.upper())
        limit = LIST_LIMIT if limit is None else _int_value(limit, "limit", 1, LIST_MAX)
        if cursor:
            at, pid = _decode_cursor(cursor)
            query = query.where((Payment.created_at < at) | ((Payment.created_at == at) & (Payment.id < pid)))
        rows = list(query.order_by(Payment.created_at.desc(), Payment.id.desc()).limit(limit + 1))
        more = len(rows) > limit
        rows = rows[:limit]
        return rows, (_encode_cursor(rows[-1]) if more else None)

    # -- render ---------------------------------------------------------------

    def status_history(self, payment, new=False):
        """Return ``[{status, at, cause}]``: creation and every status change since
        (``new``: the payment was created in this request, there is none yet)."""
        rows = [{"status": st.UNPAID, "at": iso(payment.created_at), "cause": "created"}]
        for event in () if new else outbox.history(payment.id, outbox.STATUS_CHANGED):
            data = json.loads(event.data)
            rows.append({"status": data["to"], "at": iso(event.created_at), "cause": data.get("cause")})
        return rows

    def render(self, payment, receipts=None, tip_height=None, with_history=True, new=False):
        """Return the JSON-ready dict of a payment (amounts as exact decimal strings).

        ``new``: the payment was created in this request, so it has no receipts and no
        status change yet, and rendering it needs no query."""
        backend, _ = self.coins.get(payment.currency, (None, None))
        decimals = backend.decimals if backend else 8
        if new:
            receipts, tip_height = [], 0
        if receipts is None:
            receipts = select_where(Receipt, '"payment_id" = {p}', Payment.id.db_value(payment.id), order='"id"')
        if tip_height is None:
            tip_height = _tip_height(payment.currency)
        need = st.required_amount(payment.amount, payment.tolerance_bp)
        due = max(0, payment.amount - payment.amount_received) if payment.amount_received < need else 0
        money = lambda units: format_amount(units, decimals)  # noqa: E731
        uri = backend.payment_uri(payment.address, due) if backend else None
        history = self.status_history(payment, new) if with_history else None
        return {
            "id": str(payment.id),
            "currency": payment.currency,
            "status": payment.status,
            "paid": payment.status in st.PAID_STATUSES,
            # Funds that covered the amount arrived only after expiry: the status stays
            # EXPIRED (the merchant decides), but nothing is hidden.
            "paid_late": payment.status == st.EXPIRED and payment.amount_received >= need,
            "amount": money(payment.amount),
            "amount_received": money(payment.amount_received),
            "amount_recieved": money(payment.amount_received),  # the seed's spelling; deprecated
            "amount_pending": money(payment.amount_pending),
            "amount_due": money(due),
            "amount_overpaid": money(max(0, payment.amount_received - payment.amount)),
            "payment_address": payment.address,
            "payment_uri": uri,
            "account": payment.account,
            "metadata": json.loads(payment.metadata),
            "confirmations_required": payment.confirmations_required,
            "underpayment_tolerance": _percent(payment.tolerance_bp),
            "callback_url": payment.callback_url,
            "redirect_url": payment.redirect_url,
            "transactions": [_render_receipt(r, tip_height, money) for r in receipts],
            "created_at": iso(payment.created_at),
            "updated_at": iso(payment.updated_at),
            "expires_at": iso(payment.expires_at),
            "paid_at": iso(payment.paid_at),
            **({"status_history": history} if history is not None else {}),
        }

    def render_event(self, event, currency):
        """Return the JSON-ready dict of an outbox Event of a ``currency`` payment."""
        data = json.loads(event.data)
        if "amount" in data:
            backend, _ = self.coins.get(currency, (None, None))
            data["amount"] = format_amount(data["amount"], backend.decimals if backend else 8)
        if isinstance(data.get("vout"), str) and data["vout"].isdigit():
            data["vout"] = int(data["vout"])
        return {"id": str(event.event_id), "type": event.type, "sequence": event.sequence,
                "created_at": iso(event.created_at), "data": data}

    def render_many(self, payments):
        """Render a page of payments with one receipts query and one tip query per currency."""
        by_payment = {}
        if payments:
            query = Receipt.select().where(Receipt.payment.in_([p.id for p in payments])).order_by(Receipt.id)
            for r in query:
                by_payment.setdefault(r.payment_id, []).append(r)
        tips = {c: _tip_height(c) for c in {p.currency for p in payments}}
        return [self.render(p, by_payment.get(p.id, []), tips[p.currency], with_history=False) for p in payments]


def _render_receipt(r, tip_height, money):
    vout = int(r.output) if r.output.isdigit() else r.output
    return {"txid": r.txid, "vout": vout, "amount": money(r.amount), "confirmations": confirmations(r, tip_height or 0),
            "status": r.state, "first_seen": iso(r.first_seen)}


def _tip_height(currency):
    state = select_where(ChainState, '"currency" = {p}', currency)
    return state[0].cursor_height if state else None


def iso(moment):
    """Render a naive UTC datetime as ISO 8601 with a Z, or None."""
    if moment is None:
        return None
    return moment.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def parse_time(value, field):
    """Parse an ISO 8601 timestamp (with an offset or Z) to a naive UTC datetime."""
    if not isinstance(value, str):
        raise ValidationError("must be an ISO 8601 time string", field)
    try:
        moment = datetime.datetime.fromisoformat(value.strip().replace("z", "Z"))
    except ValueError:
        raise ValidationError("must be an ISO 8601 time such as 2026-01-31T12:00:00Z", field) from None
    if moment.tzinfo is None:
        raise ValidationError("must include a time zone offset or Z", field)
    return moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)


def _optional_str(body, field, max_len):
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError("must be a string", field)
    if len(value) > max_len:
        raise ValidationError("must be at most %d characters" % max_len, field)
    return value


def check_url(value, field):
    """Return ``value`` if it is None or an absolute http(s) URL with a host, else raise naming ``field``."""
    value = _optional_str({field: value}, field, MAX_URL)
    if value is None:
        return None
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises ValueError for a bad port)
    except ValueError:
        raise ValidationError("is not a valid URL", field) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError("must be an absolute http:// or https:// URL", field)
    if any(c.isspace() or ord(c) < 32 for c in value):
        raise ValidationError("must not contain spaces or control characters", field)
    return value


def _metadata(value):
    if value is None:
        return "{}"
    if not isinstance(value, dict):
        raise ValidationError("must be a JSON object", "metadata")
    text = json.dumps(value, default=_decimal_text, sort_keys=True)
    if len(text) > 16384:
        raise ValidationError("must be at most 16 KiB as JSON", "metadata")
    return text


def _decimal_text(value):
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(type(value).__name__)


def _int_value(value, field, lo, hi):
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError("must be an integer", field)
    if not lo <= value <= hi:
        raise ValidationError("must be between %d and %d" % (lo, hi), field)
    return value


def _int_field(body, field, lo, hi, default):
    value = body.get(field)
    return default if value is None else _int_value(value, field, lo, hi)


def _tolerance(value):
    """Underpayment tolerance in percent (up to 2 decimals) -> basis points."""
    if value is None:
        return 0
    units = parse_amount(value, "underpayment_tolerance", max_money=10000, decimals=2, allow_zero=True)
    if units >= 10000:
        raise ValidationError("must be below 100 (percent)", "underpayment_tolerance")
    return units


def _percent(bp):
    return format_amount(bp, 2)


def _body_hash(body):
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=_decimal_text)
    return hashlib.sha256(text.encode()).hexdigest()


def _encode_cursor(payment):
    raw = "%s|%s" % (payment.created_at.isoformat(), payment.id)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor):
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, pid = raw.split("|")
        return datetime.datetime.fromisoformat(at), uuid.UUID(pid)
    except (ValueError, UnicodeDecodeError):
        raise ValidationError("is not a cursor this API returned", "cursor") from None
