"""The OpenAPI paths of the money that leaves: payouts, refunds, payout batches."""

from ...core import keys
from .build import (
    BATCH,
    BATCH_ID,
    ERROR,
    IDEMPOTENCY,
    LIMIT,
    PAGE,
    PAYMENT_ID,
    PAYOUT_ANSWER,
    PAYOUT_ID,
    PULL_ID,
    REVISION,
    answer,
    body_of,
    envelope,
    operation,
    param,
    ref,
)
from .schemas import AMOUNT


def payouts():
    def action(summary, body=None):
        return {"post": operation(summary, {"200": PAYOUT_ANSWER}, keys.PAYOUTS_APPROVE, [PAYOUT_ID], body, "Payouts")}

    return {
        "/payouts": {
            "get": operation(
                "List payouts",
                {"200": answer(envelope(payouts={"type": "array", "items": ref("Payout")}), "The payouts.")},
                keys.PAYOUTS_READ,
                [
                    param("state", "query", "Only this state.", None, False),
                    param("currency", "query", "Only this coin.", None, False),
                    LIMIT,
                ],
                tag="Payouts",
            ),
            "post": operation(
                "Record a payout (it awaits approval)",
                {
                    "201": PAYOUT_ANSWER,
                    "200": {**PAYOUT_ANSWER, "description": "A replay of the same Idempotency-Key."},
                },
                keys.PAYOUTS_APPROVE,
                [IDEMPOTENCY],
                body_of(
                    {
                        "type": "object",
                        "properties": {
                            "currency": {"type": "string"},
                            "amount": {"oneOf": [AMOUNT, {"type": "number"}]},
                            "destination": {"type": "string", "description": "The address to pay."},
                            "metadata": {"type": "object"},
                        },
                        "required": ["currency", "amount", "destination"],
                    }
                ),
                tag="Payouts",
            ),
        },
        "/payouts/{payout_id}": {
            "get": operation("Read a payout", {"200": PAYOUT_ANSWER}, keys.PAYOUTS_READ, [PAYOUT_ID], tag="Payouts")
        },
        "/payouts/{payout_id}/approve": action("Approve a payout: the daemon sends it", REVISION),
        "/payouts/{payout_id}/cancel": action("Cancel a payout not yet sent", REVISION),
        "/payouts/{payout_id}/mark-paid": action("Mark a payout paid by other means", REVISION),
    }


def refunds():
    """Refunds: the pull payment a customer claims, and its claim page."""
    return {
        "/payments/{payment_id}/refund": {
            "post": operation(
                "Refund a payment (a pull payment the customer claims)",
                {
                    "201": answer(
                        envelope(pull_payment=ref("PullPayment"), payout={"oneOf": [ref("Payout"), {"type": "null"}]}),
                        "The refund.",
                    )
                },
                keys.PAYOUTS_APPROVE,
                [PAYMENT_ID, IDEMPOTENCY],
                body_of({"type": "object"}, False),
                tag="Payouts",
            )
        },
        "/pull-payments/{pull_id}": {
            "get": operation(
                "A pull payment and its payouts",
                {
                    "200": answer(
                        envelope(pull_payment=ref("PullPayment"), payouts={"type": "array", "items": ref("Payout")}),
                        "The pull payment.",
                    )
                },
                keys.PAYOUTS_READ,
                [PULL_ID],
                tag="Payouts",
            )
        },
        "/claim/{pull_id}": {
            "get": operation(
                "The customer's refund claim page", {"200": PAGE, "404": PAGE}, params=[PULL_ID], tag="Checkout"
            ),
            "post": operation(
                "Claim a refund to an address (the page's form)",
                {"200": PAGE, "303": {"description": "Claimed: back to the page."}, "400": PAGE, "404": PAGE},
                params=[PULL_ID],
                body={
                    "required": True,
                    "content": {
                        "application/x-www-form-urlencoded": {
                            "schema": {"type": "object", "properties": {"destination": {"type": "string"}}}
                        }
                    },
                },
                tag="Checkout",
            ),
        },
    }


def batches():
    """Payout batches, one transaction each (a watch-only coin's with an unsigned PSBT)."""
    return {
        "/payout-batches": {
            "get": operation(
                "List payout batches (one transaction each)",
                {"200": answer(envelope(batches={"type": "array", "items": {"type": "object"}}), "The batches.")},
                keys.PAYOUTS_READ,
                [param("state", "query", "Only this state.", None, False)],
                tag="Payouts",
            )
        },
        "/payout-batches/{batch_id}": {
            "get": operation(
                "Read a batch (a watch-only one with its unsigned PSBT)",
                BATCH,
                keys.PAYOUTS_READ,
                [BATCH_ID],
                tag="Payouts",
            ),
            "post": operation(
                "Not allowed: a signed PSBT goes to the batch's /psbt",
                {"405": answer(ERROR, "Method not allowed.")},
                keys.PAYOUTS_APPROVE,
                [BATCH_ID],
                tag="Payouts",
            ),
        },
        "/payout-batches/{batch_id}/psbt": {
            "get": operation("Read a batch (as its parent path)", BATCH, keys.PAYOUTS_READ, [BATCH_ID], tag="Payouts"),
            "post": operation(
                "Submit the signed PSBT of a watch-only batch: checked, then broadcast",
                BATCH,
                keys.PAYOUTS_APPROVE,
                [BATCH_ID],
                body_of(
                    {
                        "type": "object",
                        "properties": {"psbt": {"type": "string", "description": "Base64 of the signed PSBT."}},
                        "required": ["psbt"],
                        "additionalProperties": False,
                    }
                ),
                tag="Payouts",
            ),
        },
    }
