"""The Greenfield subset's OpenAPI document (transient/api/greenfield/openapi.py) against the
routes it describes and against BTCPay's published shapes: every route under /api/v1/ is
documented with the same methods and every documented one served; the fields a Greenfield
client reads have BTCPay's names and JSON types (recorded below from BTCPay Server's
swagger document, v1: InvoiceData, WebhookData, WebhookDeliveryData, the webhook event,
ProblemDetails and ValidationProblemDetails); and real answers of the routes match it.
The daemon under schemathesis: tests/e2e/test_openapi_contract.py."""

import json
import re

import jsonschema_rs
import pytest
from fakes import fake_runtime
from falcon import inspect

from transient.api.greenfield.openapi import document

pytestmark = pytest.mark.unit

GREENFIELD = "/api/v1/"
KEY = "gf-openapi-0123456789abcdef"

# BTCPay's shapes that matter to a client, as its swagger document gives them: {field: JSON
# type}. A decimal is a JSON string there (NumericStringJsonConverter), a time unix seconds.
BTCPAY = {
    "Invoice": {
        "id": "string",
        "storeId": "string",
        "amount": "string",
        "currency": "string",
        "type": "string",
        "checkoutLink": "string",
        "status": "string",
        "additionalStatus": "string",
        "createdTime": "integer",
        "expirationTime": "integer",
        "monitoringExpiration": "integer",
        "archived": "boolean",
        "availableStatusesForManualMarking": "array",
        "metadata": "object",
        "checkout": "object",
    },
    "InvoicePaymentMethod": {
        "paymentMethodId": "string",
        "destination": "string",
        "rate": "string",
        "paymentMethodPaid": "string",
        "totalPaid": "string",
        "due": "string",
        "amount": "string",
        "networkFee": "string",
        "activated": "boolean",
        "payments": "array",
    },
    "InvoicePayment": {
        "id": "string",
        "receivedDate": "integer",
        "value": "string",
        "fee": "string",
        "status": "string",
        "destination": "string",
    },
    "Webhook": {"id": "string", "enabled": "boolean", "automaticRedelivery": "boolean", "url": "string"},
    "WebhookWithSecret": {"id": "string", "url": "string", "secret": "string"},
    "WebhookDelivery": {
        "id": "string",
        "timestamp": "integer",
        "httpCode": "integer",
        "errorMessage": "string",
        "status": "string",
    },
    "WebhookEvent": {
        "deliveryId": "string",
        "webhookId": "string",
        "originalDeliveryId": "string",
        "isRedelivery": "boolean",
        "type": "string",
        "timestamp": "integer",
        "storeId": "string",
        "invoiceId": "string",
        "metadata": "object",
        "afterExpiration": "boolean",
        "paymentMethodId": "string",
        "overPaid": "boolean",
        "manuallyMarked": "boolean",
        "partiallyPaid": "boolean",
    },
    "Error": {"code": "string", "message": "string"},  # ProblemDetails
}
BTCPAY_ENUMS = {
    ("Invoice", "status"): {"New", "Processing", "Settled", "Expired", "Invalid"},
    ("Invoice", "additionalStatus"): {"None", "PaidLate", "PaidPartial", "Marked", "PaidOver"},
    ("WebhookDelivery", "status"): {"Failed", "HttpError", "HttpSuccess"},
    ("InvoicePayment", "status"): {"Invalid", "Processing", "Settled"},
}
BTCPAY_EVENTS = {
    "InvoiceCreated",
    "InvoiceReceivedPayment",
    "InvoicePaymentSettled",
    "InvoiceProcessing",
    "InvoiceSettled",
    "InvoiceExpired",
    "InvoiceInvalid",
}


@pytest.fixture(scope="module")
def runtime(tmp_path_factory):
    return fake_runtime(tmp_path_factory.mktemp("gf-openapi"), extra='[api]\nkeys = ["%s"]\n' % KEY)


def types_of(schema):
    """The JSON types a property schema allows."""
    if "$ref" in schema:
        return {"object"}
    if "anyOf" in schema:
        return set().union(*(types_of(s) for s in schema["anyOf"]))
    if "const" in schema:
        return {"string"} if isinstance(schema["const"], str) else {"other"}
    if "enum" in schema:
        return {"string"} if all(isinstance(e, str) for e in schema["enum"]) else {"other"}
    kind = schema.get("type")
    return set(kind) if isinstance(kind, list) else {kind}


def test_every_greenfield_route_is_documented_and_every_documented_route_served(runtime):
    app = runtime[0].app
    served = {
        r.path: {m.method.lower() for m in r.methods if not m.internal} - {"head"}
        for r in inspect.inspect_app(app).routes
        if r.path.startswith(GREENFIELD)
    }
    documented = {path: set(item) for path, item in document()["paths"].items()}
    problems = []
    for path in sorted(set(served) | set(documented)):
        for method in sorted(served.get(path, set()) - documented.get(path, set())):
            problems.append("%s %s is served but not in transient/api/greenfield/openapi.py" % (method.upper(), path))
        for method in sorted(documented.get(path, set()) - served.get(path, set())):
            problems.append("%s %s is documented but not served (api/greenfield/__init__.py)" % (method.upper(), path))
    assert not problems, "\n".join(problems)
    assert len(documented) >= 25


def test_the_fields_a_client_reads_have_btcpays_names_and_types():
    schemas = document()["components"]["schemas"]
    wrong = []
    for name, fields in BTCPAY.items():
        properties, required = schemas[name]["properties"], set(schemas[name].get("required", ()))
        for field, kind in fields.items():
            if field not in properties:
                wrong.append("%s.%s is missing" % (name, field))
            elif types_of(properties[field]) != {kind}:
                wrong.append("%s.%s is %s, BTCPay's is %s" % (name, field, types_of(properties[field]), kind))
            elif name != "WebhookEvent" and field not in required:
                wrong.append("%s.%s must be required (a client's getter reads it unchecked)" % (name, field))
    for (name, field), values in BTCPAY_ENUMS.items():
        ours = schemas[name]["properties"][field]["enum"]
        if set(ours) != values:
            wrong.append("%s.%s: ours %s, BTCPay's %s" % (name, field, sorted(ours), sorted(values)))
    event_types = set(schemas["WebhookEvent"]["properties"]["type"]["enum"])
    if not BTCPAY_EVENTS <= event_types:
        wrong.append("event types missing: %s" % sorted(BTCPAY_EVENTS - event_types))
    errors = schemas["ValidationErrors"]  # ValidationProblemDetails: an array of {path, message}
    if errors["type"] != "array" or set(errors["items"]["required"]) != {"path", "message"}:
        wrong.append("a 422 is an array of {path, message}")
    assert not wrong, "\n".join(wrong)


def test_every_success_is_200_and_every_error_greenfields_shape():
    doc = document()
    for path, item in doc["paths"].items():
        for method, op in item.items():
            assert [s for s in op["responses"] if s.startswith("2")] == ["200"], (method, path)
            if path.endswith("/openapi.json"):
                continue
            assert op["responses"]["default"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/Error"
            }
            if "422" in op["responses"]:
                assert op["responses"]["422"]["content"]["application/json"]["schema"]["$ref"].endswith(
                    "/ValidationErrors"
                )


def test_each_operation_names_the_permissions_its_resource_asks_for(runtime):
    app, wrong = runtime[0].app, []
    for path, item in document()["paths"].items():
        found = app._router.find(re.sub(r"\{[^}]+\}", "x1", path))
        assert found is not None and found[3] == path, path
        scopes = getattr(found[0], "scopes", {})
        for method, op in item.items():
            if method.upper() not in scopes:
                wanted = None  # public
            else:
                asked = scopes[method.upper()]
                wanted = [] if asked is None else [asked] if isinstance(asked, str) else list(asked)
            if op.get("x-permissions") != wanted or (wanted is None) != (op["security"] == []):
                wrong.append(
                    "%s %s: the resource asks for %r, the document says %r"
                    % (method, path, wanted, op.get("x-permissions"))
                )
    assert not wrong, "\n".join(wrong)


def validator(name):
    """A validator of the component ``name`` (its references resolved in the document)."""
    doc = json.loads(json.dumps(document()))
    schema = dict(doc["components"]["schemas"][name], components=doc["components"])
    return jsonschema_rs.Draft202012Validator(schema)


def test_real_answers_match_the_document(runtime):
    client, rt = runtime
    auth = {"Authorization": "token " + KEY}
    store = rt.greenfield.store_id
    served = client.simulate_get("/api/v1/openapi.json")
    assert served.status_code == 200 and served.json == json.loads(json.dumps(document()))
    hook = client.simulate_post(
        "/api/v1/stores/%s/webhooks" % store, json={"url": "https://shop.example/hook"}, headers=auth
    )
    validator("WebhookWithSecret").validate(hook.json)
    created = client.simulate_post(
        "/api/v1/stores/%s/invoices" % store,
        json={"amount": "1.5", "currency": "LTC", "metadata": {"orderId": "o-1", "n": 3}},
        headers=auth,
    )
    assert created.status_code == 200, created.text
    validator("Invoice").validate(created.json)
    invoice = created.json["id"]
    methods = client.simulate_get("/api/v1/stores/%s/invoices/%s/payment-methods" % (store, invoice), headers=auth)
    for method in methods.json:
        validator("InvoicePaymentMethod").validate(method)
    hooks = "/api/v1/stores/%s/webhooks/%s" % (store, hook.json["id"])
    validator("Webhook").validate(client.simulate_get(hooks, headers=auth).json)
    deliveries = client.simulate_get(hooks + "/deliveries", headers=auth).json
    assert deliveries, "the invoice's InvoiceCreated is queued to the webhook"
    validator("WebhookDelivery").validate(deliveries[0])
    sent = client.simulate_get(hooks + "/deliveries/%s/request" % deliveries[0]["id"], headers=auth).json
    validator("WebhookEvent").validate(sent)
    assert sent["type"] == "InvoiceCreated" and sent["invoiceId"] == invoice
    for answer, name in (
        (client.simulate_get("/api/v1/server/info", headers=auth), "ServerInfo"),
        (client.simulate_get("/api/v1/api-keys/current", headers=auth), "ApiKey"),
        (client.simulate_get("/api/v1/stores/%s" % store, headers=auth), "Store"),
        (client.simulate_get("/api/v1/stores/nope/invoices", headers=auth), "Error"),
        (client.simulate_get("/api/v1/server/info"), "Error"),
        (client.simulate_post("/api/v1/stores/%s/invoices" % store, json={}, headers=auth), "ValidationErrors"),
    ):
        validator(name).validate(answer.json)
    # DELETE .../mark-paid cancelled the payout (inherited from the approve/cancel route).
    assert client.simulate_delete("/api/v1/stores/%s/payouts/x1/mark-paid" % store, headers=auth).status_code == 405
    bad = validator("Invoice")
    assert not bad.is_valid(dict(created.json, amount=1.5))  # a float amount is not BTCPay's
