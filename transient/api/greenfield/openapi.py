"""The OpenAPI 3.1 document of the Greenfield subset Transient serves under /api/v1/ (our
own description of what these routes answer, in BTCPay's names and shapes: see
docs/reference/greenfield.md), served at ``GET /api/v1/openapi.json``.
tests/unit/test_greenfield_openapi.py checks it against the routes and BTCPay's shapes."""

from ... import __version__
from ...greenfield import shapes
from ..openapi import OpenApiDocument
from .resources import MANAGE_PAYOUTS, VIEW_PAYOUTS
from .schemas import components, ref

JSON = "application/json"
BASE = "/api/v1"
STORE = BASE + "/stores/{store_id}"
HOOK = STORE + "/webhooks/{webhook_id}"
DELIVERY = HOOK + "/deliveries/{delivery_id}"
PULL = BASE + "/pull-payments/{pull_id}"


def answer(schema, description):
    return {"description": description, "content": {JSON: {"schema": schema}}}


ERROR = answer(ref("Error"), "`{code, message}` (a 403 also names the `missingPermission`).")
INVALID = answer(ref("ValidationErrors"), "A field failed validation: an array naming each path.")
UNAVAILABLE = answer(ref("Error"), "No rate or node for any of the methods asked for (Retry-After).")
EMPTY = answer({"type": "object", "maxProperties": 0}, "Done (an empty object).")


def param(name, description, where="path", schema=None):
    return {"name": name, "in": where, "required": where == "path", "description": description, "schema": schema}


def path_param(name, description):
    return param(name, description, schema={"type": "string"})


def flag(name, description):
    return param(name, description, "query", {"type": "boolean"})


STORE_ID = path_param("store_id", "The store's id (`GET /api/v1/stores`).")
INVOICE_ID = path_param("invoice_id", "The invoice's id.")
HOOK_ID = path_param("webhook_id", "The webhook's id.")
DELIVERY_ID = path_param("delivery_id", "The delivery's id.")
PULL_ID = path_param("pull_id", "The pull payment's id (the customer's link: public).")
PAYOUT_ID = path_param("payout_id", "The payout's id.")


def op(summary, ok, permission=None, params=(), body=None, tag="Invoices", invalid=False, unavailable=False):
    """An operation answering exactly 200 with ``ok`` (a schema), errors in Greenfield's shapes."""
    responses = {"200": answer(ok, "Success (Greenfield answers 200 to every success).")}
    if invalid:
        responses["422"] = INVALID
    if unavailable:
        responses["503"] = UNAVAILABLE
    responses["default"] = ERROR
    out = {"summary": summary, "tags": [tag], "parameters": list(params), "responses": responses}
    if permission is not None:
        # The names the resource's ``scopes`` ask for ([]: any valid key).
        names = [permission] if isinstance(permission, str) and permission else list(permission)
        out["security"] = [{"apiKey": []}]
        out["x-permissions"] = names
        out["description"] = (
            "Needs an API key with %s." % " and ".join("`%s`" % n for n in names)
            if names
            else "Needs an API key (any)."
        )
    else:
        out["security"] = []
        out["description"] = "Public: whoever holds the link."
    if body is not None:
        out["requestBody"] = {"required": False, "content": {JSON: {"schema": body}}}
    return out


def array(name):
    return {"type": "array", "items": ref(name)}


def invoice_paths():
    listing = [
        param("orderId", "Only these orders.", "query", {"type": "array", "items": {"type": "string"}}),
        param("status", "Only these statuses.", "query", {"type": "array", "items": {"enum": list(shapes.STATUSES)}}),
        param("textSearch", "An invoice id, order id or text in the metadata.", "query", {"type": "string"}),
        param("startDate", "Created at or after (unix seconds).", "query", {"type": "integer", "minimum": 0}),
        param("endDate", "Created at or before (unix seconds).", "query", {"type": "integer", "minimum": 0}),
        param("skip", "Skip this many.", "query", {"type": "integer", "minimum": 0}),
        param("take", "At most this many.", "query", {"type": "integer", "minimum": 0}),
    ]
    one = (STORE_ID, INVOICE_ID)
    mark = {"type": "object", "properties": {"status": {"enum": list(shapes.MARKABLE)}}, "required": ["status"]}
    return {
        STORE + "/invoices": {
            "get": op(
                "The store's invoices, newest first",
                array("Invoice"),
                shapes.VIEW_INVOICES,
                (STORE_ID, *listing),
                invalid=True,
            ),
            "post": op(
                "Create an invoice",
                ref("Invoice"),
                shapes.CREATE_INVOICE,
                (STORE_ID,),
                ref("InvoiceRequest"),
                invalid=True,
                unavailable=True,
            ),
        },
        STORE + "/invoices/{invoice_id}": {"get": op("An invoice", ref("Invoice"), shapes.VIEW_INVOICES, one)},
        STORE + "/invoices/{invoice_id}/payment-methods": {
            "get": op(
                "The invoice's payment methods and payments", array("InvoicePaymentMethod"), shapes.VIEW_INVOICES, one
            )
        },
        STORE + "/invoices/{invoice_id}/status": {
            "post": op(
                "Mark the invoice Settled or Invalid", ref("Invoice"), shapes.MODIFY_INVOICES, one, mark, invalid=True
            )
        },
    }


def webhook_paths():
    hook, delivery = (STORE_ID, HOOK_ID), (STORE_ID, HOOK_ID, DELIVERY_ID)
    can = shapes.MODIFY_WEBHOOKS
    count = param("count", "At most this many, newest first.", "query", {"type": "integer", "minimum": 1})
    body = ref("WebhookRequest")
    return {
        STORE + "/webhooks": {
            "get": op("The store's webhooks", array("Webhook"), can, (STORE_ID,), tag="Webhooks"),
            "post": op(
                "Create a webhook (its secret is answered once)",
                ref("WebhookWithSecret"),
                can,
                (STORE_ID,),
                body,
                "Webhooks",
                True,
            ),
        },
        HOOK: {
            "get": op("A webhook", ref("Webhook"), can, hook, tag="Webhooks"),
            "put": op("Change a webhook (`secret: null` keeps it)", ref("Webhook"), can, hook, body, "Webhooks", True),
            "delete": op("Delete a webhook", EMPTY["content"][JSON]["schema"], can, hook, tag="Webhooks"),
        },
        HOOK + "/deliveries": {
            "get": op(
                "The webhook's deliveries", array("WebhookDelivery"), can, (*hook, count), tag="Webhooks", invalid=True
            )
        },
        DELIVERY: {"get": op("A delivery", ref("WebhookDelivery"), can, delivery, tag="Webhooks")},
        DELIVERY + "/request": {
            "get": op("The exact body that was sent", ref("WebhookEvent"), can, delivery, tag="Webhooks")
        },
        DELIVERY + "/redeliver": {
            "post": op(
                "Send the event again; answers the new delivery's id", {"type": "string"}, can, delivery, tag="Webhooks"
            )
        },
    }


def payout_paths():
    store, pull = shapes.VIEW_STORE, shapes.PULL_PAYMENTS
    archived = flag("includeArchived", "Archived ones too.")
    cancelled = flag("includeCancelled", "Cancelled ones too.")
    loose = {"type": "object"}
    empty = EMPTY["content"][JSON]["schema"]
    one_payout = (STORE_ID, PAYOUT_ID)
    revision = {"type": "object", "properties": {"revision": {"type": "integer"}}}
    return {
        STORE + "/pull-payments": {
            "get": op("The store's pull payments", array("PullPayment"), store, (STORE_ID, archived), tag="Payouts"),
            "post": op("Create a pull payment", ref("PullPayment"), pull, (STORE_ID,), loose, "Payouts", True, True),
        },
        STORE + "/pull-payments/{pull_id}": {
            "delete": op("Archive a pull payment", empty, pull, (STORE_ID, PULL_ID), tag="Payouts")
        },
        PULL: {"get": op("A pull payment", ref("PullPayment"), params=(PULL_ID,), tag="Payouts")},
        PULL + "/payouts": {
            "get": op("The pull payment's payouts", array("Payout"), params=(PULL_ID, cancelled), tag="Payouts"),
            "post": op("Claim a payout of the pull payment", ref("Payout"), None, (PULL_ID,), loose, "Payouts", True),
        },
        PULL + "/payouts/{payout_id}": {
            "get": op("A payout", ref("Payout"), params=(PULL_ID, PAYOUT_ID), tag="Payouts")
        },
        STORE + "/invoices/{invoice_id}/refund": {
            "post": op(
                "Refund an invoice (a pull payment)",
                ref("PullPayment"),
                pull,
                (STORE_ID, INVOICE_ID),
                loose,
                "Payouts",
                True,
                True,
            )
        },
        STORE + "/payouts": {
            "get": op(
                "The store's payouts", array("Payout"), (store, VIEW_PAYOUTS), (STORE_ID, cancelled), tag="Payouts"
            )
        },
        STORE + "/payouts/{payout_id}": {
            "post": op("Approve a payout", ref("Payout"), MANAGE_PAYOUTS, one_payout, revision, "Payouts", True),
            "delete": op("Cancel a payout", empty, MANAGE_PAYOUTS, one_payout, tag="Payouts"),
        },
        STORE + "/payouts/{payout_id}/mark-paid": {
            "post": op("Mark a payout paid", empty, MANAGE_PAYOUTS, one_payout, tag="Payouts")
        },
    }


def store_paths():
    config = flag("includeConfig", "Add each method's `config` (empty: on-chain, the node's wallet).")
    return {
        BASE + "/server/info": {"get": op("The server and its coins' sync", ref("ServerInfo"), "", tag="Server")},
        BASE + "/api-keys/current": {"get": op("The key in use and its permissions", ref("ApiKey"), "", tag="Server")},
        BASE + "/stores": {"get": op("The store (one)", array("Store"), shapes.VIEW_STORE, tag="Stores")},
        STORE: {"get": op("The store", ref("Store"), shapes.VIEW_STORE, (STORE_ID,), tag="Stores")},
        STORE + "/payment-methods": {
            "get": op(
                "The store's payment methods",
                array("StorePaymentMethod"),
                shapes.VIEW_STORE,
                (STORE_ID, config),
                tag="Stores",
            )
        },
        BASE + "/openapi.json": {
            "get": {
                "summary": "This document",
                "parameters": [],
                "tags": ["Server"],
                "security": [],
                "responses": {"200": answer({"type": "object"}, "The OpenAPI document.")},
            }
        },
    }


def document():
    """Return the Greenfield subset's OpenAPI document (a dict)."""
    hook = {
        "post": {
            "summary": "An invoice's or payout's event, signed `BTCPay-Sig: sha256=<hex HMAC of the body>`",
            "requestBody": {"content": {JSON: {"schema": ref("WebhookEvent")}}},
            "responses": {"200": {"description": "Any 2xx: delivered; else retried when automaticRedelivery is on."}},
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Transient: BTCPay Greenfield subset",
            "version": __version__,
            "description": "The part of BTCPay Server's Greenfield API (v1) that Transient serves, for the shops'"
            " plugins and Greenfield clients. Every success is 200; errors are `{code, message}` and a 422 an"
            " array of `{path, message}`. Amounts are exact decimal strings, times unix seconds.",
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "paths": {**store_paths(), **invoice_paths(), **webhook_paths(), **payout_paths()},
        "webhooks": {"greenfield-event": hook},
        "components": components(),
    }


class GreenfieldDocument(OpenApiDocument):
    """``GET /api/v1/openapi.json``: public, the same bytes for the daemon's life."""

    def __init__(self):
        super().__init__(document)
