"""Payments as JSON: the API's, the CLI's, the webhooks' and the AMQP messages' view of a
payment and its events, and the per-worker cache of rendered GET bodies.

Amounts are exact decimal strings; times ISO 8601 with a Z.
"""

import json
import logging
import threading
from collections import OrderedDict

from ..core import events as event_types
from ..core import status as st
from ..core.clock import iso
from ..core.errors import NotFound
from ..core.money import format_amount
from ..core.redact import redact
from ..core.text import clean
from ..store.db import chunks, select_where
from ..store.models import ChainState, Event, Payment, Receipt, confirmations
from .validation import payment_id

log = logging.getLogger("transient.payments")

RENDERED_CACHE = 1024  # payments whose GET body a worker keeps (~2 KB each)
MAX_DESCRIPTION = 200  # characters of metadata["description"] the public view shows
# What anyone holding a payment's id may read (the checkout page's view): never the
# merchant's metadata, account, callback_url (its tokens), or the status history.
PUBLIC_FIELDS = (
    "id",
    "currency",
    "status",
    "paid",
    "paid_late",
    "amount",
    "amount_received",
    "amount_pending",
    "amount_due",
    "amount_overpaid",
    "payment_address",
    "payment_uri",
    "confirmations_required",
    "expires_at",
    "checkout_url",
    "qrcode_url",
)
PRICE_FIELDS = ("price", "price_currency", "rate", "rate_at")  # what a priced payment costs, and at what rate


class RenderedCache:
    """The GET bodies of recently read payments, each with the payment's row and the
    coin's tip height it was rendered from.

    A read fetches that row and height in one query and serves the kept body only
    when both are exactly as they were: every change to a payment (a status, an amount,
    a receipt, which always recomputes the payment and moves ``updated_at``, an event,
    which moves ``event_seq``) changes its row, and confirmations follow the tip. So a
    body is never stale, in one worker or many; a checkout page polling its payment
    costs one indexed query instead of four and a render.

    Each body also keeps the database's commit mark (store.commits) read before the
    query that last proved it: while the mark is the same, nothing was committed since,
    by any process, and the body is served without the query.
    """

    def __init__(self, size=RENDERED_CACHE):
        self.size = size
        self._items = OrderedDict()  # payment id -> [row, body, commit mark]
        self._lock = threading.Lock()

    def unchanged(self, pid, mark):
        """The body kept for ``pid`` when nothing was committed since it was proved
        (``mark``, not None, is the mark it was proved at), else None."""
        kept = self._items.get(pid)  # a dict read: atomic, no lock
        if kept is None or kept[2] != mark:
            return None
        return kept[1]

    def get(self, pid, row, mark=None):
        """The body kept for ``pid`` when rendered from ``row``, now proved at ``mark``."""
        if not self.size:
            return None
        with self._lock:
            kept = self._items.get(pid)
            if kept is None or kept[0] != row:
                return None
            self._items[pid] = [row, kept[1], mark]
            self._items.move_to_end(pid)
            return kept[1]

    def put(self, pid, row, body, mark=None):
        if not self.size:
            return
        with self._lock:
            self._items[pid] = [row, body, mark]
            self._items.move_to_end(pid)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


class Renderer:
    """Renders payments and their events. ``coins`` maps a currency code to ``(backend,
    options)``; ``read_cache`` bounds the RenderedCache (0 turns it off)."""

    def __init__(self, coins, read_cache=RENDERED_CACHE, public_url=None, commits=None):
        self.coins = coins
        self.cache = RenderedCache(read_cache)
        self.commits = commits if read_cache else None  # store.commits.CommitMark, or None
        # The base of the links a payment gives out ([server] public_url); without it
        # they are relative to wherever the API was reached.
        self.base_url = (public_url or "").rstrip("/")
        self._row_fields = Payment._meta.sorted_fields
        self._row_sql = None  # made at the first read: the placeholder is the database's

    def get_json(self, pid, public=False):
        """Return the GET body of a payment (``{"success": true, "payment": ...}``) as
        JSON bytes, from the RenderedCache when the payment has not changed since;
        ``public``: its public view. Raises NotFound."""
        pid = payment_id(pid)
        # Read before the query: a commit after it makes the next read ask again.
        mark = self.commits.read() if self.commits is not None else None
        if mark is not None:
            body = self.cache.unchanged((pid, public), mark)
            if body is not None:
                return body
        db = Payment._meta.database
        if self._row_sql is None:
            # Every column by name (a migration may add columns in another order) and
            # the coin's tip height, for the confirmations of the receipts.
            self._row_sql = (
                'SELECT %s, (SELECT "cursor_height" FROM "%s" WHERE "currency" = p."currency") '
                'FROM "%s" AS p WHERE p."id" = %s'
                % (
                    ", ".join('p."%s"' % f.column_name for f in self._row_fields),
                    ChainState._meta.table_name,
                    Payment._meta.table_name,
                    db.param,
                )
            )
        row = db.execute_sql(self._row_sql, [Payment.id.db_value(pid)]).fetchone()
        if row is None:
            raise NotFound("no payment with id %s" % pid, "id")
        body = self.cache.get((pid, public), row, mark)
        if body is None:
            payment = Payment(**{f.name: f.python_value(v) for f, v in zip(self._row_fields, row)})
            payment._dirty.clear()
            # The full view is for a caller with payments:read: it shows what the list and the
            # create show them, a watch-only address's derivation index and key fingerprint.
            rendered = self.render(payment, tip_height=row[-1], with_history=not public, private=not public)
            body = json.dumps(
                {"success": True, "payment": public_view(rendered) if public else rendered}, ensure_ascii=False
            ).encode()
            self.cache.put((pid, public), row, body, mark)
        return body

    def status_history(self, payment, new=False, changes=None):
        """Return ``[{status, at, cause}]``: creation and every status change since
        (``new``: the payment was created in this request, there is none yet;
        ``changes``: its status-change events, when the caller fetched them already)."""
        rows = [{"status": st.UNPAID, "at": iso(payment.created_at), "cause": "created"}]
        if changes is None:
            changes = () if new else _status_changes(payment.id)
        for event in changes:
            data = json.loads(event.data)
            rows.append({"status": data["to"], "at": iso(event.created_at), "cause": data.get("cause")})
        return rows

    def render(
        self, payment, receipts=None, tip_height=None, with_history=True, new=False, private=False, changes=None
    ):
        """Return the JSON-ready dict of a payment (amounts as exact decimal strings).

        ``new``: the payment was created in this request, so it has no receipts and no
        status change yet, and rendering it needs no query. ``private``: for a caller with
        an API key: adds a watch-only address's ``derivation_index`` and ``key_fingerprint``.
        ``receipts`` and ``changes`` (status-change events): fetched by the caller, for
        many payments in one query each (see :meth:`prefetch`)."""
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
        history = self.status_history(payment, new, changes) if with_history else None
        return {
            "id": str(payment.id),
            "currency": payment.currency,
            "status": payment.status,
            **_amounts(payment, need, due, money),
            "payment_address": payment.address,
            "payment_uri": uri,
            "checkout_url": "%s/pay/%s" % (self.base_url, payment.id),
            "qrcode_url": "%s/payments/%s/qrcode.png" % (self.base_url, payment.id),
            # Rows stored before the input checks may hold lone surrogates: shown as U+FFFD.
            "account": clean(payment.account),
            "metadata": clean(json.loads(payment.metadata)),
            "confirmations_required": payment.confirmations_required,
            "underpayment_tolerance": _percent(payment.tolerance_bp),
            # Its credentials are for the dispatcher alone: not for readers of the payment
            # nor for the receivers of its events (the redirect URL is the customer's way on).
            "callback_url": redact(payment.callback_url),
            "redirect_url": payment.redirect_url,
            "email": payment.email,  # the customer's (their e-mails); never in the public view
            **_pricing(payment),
            "transactions": [_render_receipt(r, tip_height, money) for r in receipts],
            "created_at": iso(payment.created_at),
            "updated_at": iso(payment.updated_at),
            "expires_at": iso(payment.expires_at),
            "paid_at": iso(payment.paid_at),
            **({"status_history": history} if history is not None else {}),
            **(
                {"derivation_index": payment.derivation_index, "key_fingerprint": payment.key_fingerprint}
                if private and payment.derivation_index is not None
                else {}
            ),
        }

    def render_public(self, payment, **kwargs):
        """The public view (:func:`public_view`) of ``payment`` rendered with ``kwargs``."""
        return public_view(self.render(payment, **kwargs))

    def render_event(self, event, currency):
        """Return the JSON-ready dict of an outbox Event of a ``currency`` payment."""
        data = json.loads(event.data)
        if "amount" in data:
            backend, _ = self.coins.get(currency, (None, None))
            data["amount"] = format_amount(data["amount"], backend.decimals if backend else 8)
        if isinstance(data.get("vout"), str) and data["vout"].isdigit():
            data["vout"] = int(data["vout"])
        return {
            "id": str(event.event_id),
            "type": event.type,
            "sequence": event.sequence,
            "created_at": iso(event.created_at),
            "data": data,
        }

    def prefetch(self, pids):
        """Return ``({pid: [Receipt]}, {pid: [status-change Event]})`` for the payment ids
        ``pids``, in one query each per IN-list chunk: a sync's events render each payment
        they touch, and a query per payment was most of a synced payment's statements."""
        receipts, changes = {}, {}
        for part in chunks([Payment.id.db_value(pid) for pid in pids]):
            for r in Receipt.select().where(Receipt.payment.in_(part)).order_by(Receipt.id):
                receipts.setdefault(r.payment_id, []).append(r)
            query = Event.select().where(Event.payment.in_(part) & (Event.type == event_types.STATUS_CHANGED))
            for e in query.order_by(Event.sequence):
                changes.setdefault(e.payment_id, []).append(e)
        return receipts, changes

    def render_many(self, payments, private=False):
        """Render a page of payments with one receipts query and one tip query per currency."""
        by_payment = {}
        if payments:
            query = Receipt.select().where(Receipt.payment.in_([p.id for p in payments])).order_by(Receipt.id)
            for r in query:
                by_payment.setdefault(r.payment_id, []).append(r)
        tips = {c: _tip_height(c) for c in {p.currency for p in payments}}
        return [self._render_listed(p, by_payment.get(p.id, []), tips[p.currency], private) for p in payments]

    def _render_listed(self, payment, receipts, tip_height, private):
        # One row that cannot be rendered must not break every page that holds it.
        try:
            return self.render(payment, receipts, tip_height, with_history=False, private=private)
        except Exception:  # noqa: BLE001 - logged; the row is listed with what is sure
            log.exception("payment %s cannot be rendered", payment.id)
            return {
                "id": str(payment.id),
                "currency": payment.currency,
                "status": payment.status,
                "render_error": "this payment cannot be shown; the server log has the details",
            }


def least_confirmations(payment):
    """Return the least confirmations among a rendered payment's outputs still counted,
    capped at its requirement (what the checkout page shows)."""
    counts = [t["confirmations"] for t in payment["transactions"] if t["status"] in ("pending", "confirmed")]
    return max(0, min(min(counts, default=0), payment["confirmations_required"]))


def public_view(payment):
    """Return the public view of a rendered payment: status, amounts, address, URI,
    expiry, confirmations, the transactions' txids and amounts, the description the
    merchant chose to show (``metadata["description"]``, up to 200 characters) and,
    once paid, the redirect_url the customer is sent to."""
    view = {k: payment[k] for k in PUBLIC_FIELDS}
    view.update({k: payment.get(k) for k in PRICE_FIELDS})
    description = payment["metadata"].get("description")
    view["description"] = description[:MAX_DESCRIPTION] if isinstance(description, str) else None
    view["confirmations"] = least_confirmations(payment)
    view["transactions"] = [
        {k: t[k] for k in ("txid", "vout", "amount", "confirmations", "status")} for t in payment["transactions"]
    ]
    view["redirect_url"] = payment["redirect_url"] if payment["paid"] else None
    view["view"] = "public"
    return view


def _render_receipt(r, tip_height, money):
    vout = int(r.output) if r.output.isdigit() else r.output
    return {
        "txid": r.txid,
        "vout": vout,
        "amount": money(r.amount),
        "confirmations": confirmations(r, tip_height or 0),
        "status": r.state,
        "first_seen": iso(r.first_seen),
    }


def _tip_height(currency):
    state = select_where(ChainState, '"currency" = {p}', currency)
    return state[0].cursor_height if state else None


def _percent(bp):
    return format_amount(bp, 2)


def _status_changes(pid):
    """The payment's status-change events, oldest first."""
    return select_where(
        Event,
        '"payment_id" = {p} AND "type" = {p}',
        Payment.id.db_value(pid),
        event_types.STATUS_CHANGED,
        order='"sequence"',
    )


def _amounts(payment, need, due, money):
    """The status flags and amounts of a rendered payment (``need``: what makes it paid)."""
    return {
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
    }


def _pricing(payment):
    """What a priced payment was priced with; nulls for one given in coins."""
    return {
        "price": payment.price,
        "price_currency": payment.price_currency,
        "rate": payment.rate,
        "rate_sources": json.loads(payment.rate_sources) if payment.rate_sources else None,
        "rate_at": iso(payment.rate_at),
    }
