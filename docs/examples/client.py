"""A small client of Transient's HTTP API, written against its OpenAPI document
(GET /openapi.json): create a payment, follow it until it is paid. Standard library and
requests only; amounts stay exact decimal strings from end to end."""

import time
from decimal import Decimal

import requests


class Transient:
    def __init__(self, base_url, key=None, timeout=10):
        self.base_url = base_url.rstrip("/")
        self.http = requests.Session()
        self.timeout = timeout
        if key:
            self.http.headers["Authorization"] = "Bearer " + key  # a key holding payments:create and payments:read

    def _answer(self, response):
        body = response.json()
        if not body.get("success"):  # every error is {"success": false, "error": {"code", "message", "field"}}
            error = body["error"]
            raise ValueError("%s: %s (%s)" % (response.status_code, error["message"], error.get("field")))
        return body

    def create_payment(self, currency, amount, idempotency_key=None, **fields):
        """POST /payments: a new payment (or, with the same Idempotency-Key, the same one)."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        body = {"currency": currency, "amount": str(Decimal(amount)), **fields}
        response = self.http.post(self.base_url + "/payments", json=body, headers=headers, timeout=self.timeout)
        return self._answer(response)["payment"]

    def payment(self, payment_id):
        """GET /payments/{payment_id}."""
        response = self.http.get(self.base_url + "/payments/" + payment_id, timeout=self.timeout)
        return self._answer(response)["payment"]

    def wait_until_paid(self, payment_id, timeout=60, interval=0.5):
        """Poll until the payment is PAID or OVERPAID; return it."""
        deadline = time.monotonic() + timeout
        while True:
            payment = self.payment(payment_id)
            if payment["paid"]:
                return payment
            if time.monotonic() > deadline:
                raise TimeoutError("payment %s is still %s" % (payment_id, payment["status"]))
            time.sleep(interval)


if __name__ == "__main__":  # against the devnet of ./scripts/run: pay it with `transient devnet pay ID`
    client = Transient("http://127.0.0.1:8080")
    payment = client.create_payment("LTC", "1.5", idempotency_key="example-order-1")
    print("pay %s LTC to %s (%s)" % (payment["amount_due"], payment["payment_address"], payment["checkout_url"]))
    paid = client.wait_until_paid(payment["id"], timeout=3600)
    print("paid: %s LTC received" % paid["amount_received"])
