"""The building blocks of the OpenAPI paths: an operation, a parameter, a JSON answer,
and the parameters and answers several routes share."""

from ...payments.service import LIST_LIMIT, LIST_MAX

JSON = "application/json"
ERROR = {"$ref": "#/components/schemas/Error"}


def answer(schema, description):
    return {"description": description, "content": {JSON: {"schema": schema}}}


def envelope(**fields):
    return {"type": "object", "properties": {"success": {"const": True}, **fields}, "required": ["success", *fields]}


def ref(name):
    return {"$ref": "#/components/schemas/%s" % name}


def param(name, where, description, schema=None, required=None):
    return {
        "name": name,
        "in": where,
        "required": where == "path" if required is None else required,
        "description": description,
        "schema": schema or {"type": "string"},
    }


def operation(summary, responses, scope=None, params=(), body=None, tag="Payments", description=None):
    op = {"summary": summary, "tags": [tag], "parameters": list(params), "responses": dict(responses)}
    # Every error, whatever the route, is the one Error shape (api/errors.py).
    op["responses"].setdefault("default", answer(ERROR, "An error: a JSON body naming the field."))
    if description:
        op["description"] = description
    if scope:
        op["x-scope"] = scope
        op["security"] = [{"apiKey": []}]
        op["description"] = (description + " " if description else "") + "Needs a key with `%s`." % scope
    if body is not None:
        op["requestBody"] = body
    return op


def body_of(schema, required=True):
    return {"required": required, "content": {JSON: {"schema": schema}}}


IDEMPOTENCY = param("Idempotency-Key", "header", "Retries with the same key and body return the same object.")
PAYMENT_ID = param("payment_id", "path", "The payment's id (a UUID).")
PAYOUT_ID = param("payout_id", "path", "The payout's id.")
PULL_ID = param("pull_id", "path", "The pull payment's id.")
LIMIT = param(
    "limit",
    "query",
    "At most this many (default %d)." % LIST_LIMIT,
    {"type": "integer", "minimum": 1, "maximum": LIST_MAX},
    False,
)
PAGE = {"description": "An HTML page.", "content": {"text/html": {"schema": {"type": "string"}}}}
PAYOUT_ANSWER = answer(envelope(payout=ref("Payout")), "The payout.")
BATCH_ID = param("batch_id", "path", "The payout batch's id.")
BATCH = {"200": answer(envelope(batch={"type": "object"}), "The batch.")}
REVISION = body_of(
    {"type": "object", "properties": {"revision": {"type": "integer"}}, "additionalProperties": False}, False
)
