"""The component schemas of the Greenfield subset's OpenAPI document: the objects the
routes answer (invoice, its payment methods, webhook, delivery, store, payouts) and the
two error shapes, their names and enums taken from the domain (transient.greenfield) so
that they cannot drift from what the code sends."""

from ...greenfield import shapes
from ...payouts import states as payout_states

STRING, INTEGER, BOOLEAN = {"type": "string"}, {"type": "integer"}, {"type": "boolean"}
OBJECT = {"type": "object"}
DECIMAL = {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$", "description": "An exact decimal, e.g. `1.5`."}
UNIX = {"type": "integer", "minimum": 0, "description": "Unix seconds."}


def nullable(schema):
    return {"anyOf": [schema, {"type": "null"}]}


def obj(required=(), **properties):
    """An object with ``properties``, of which ``required`` (default: all) must be there."""
    return {"type": "object", "properties": properties, "required": list(required or properties)}


def ref(name):
    return {"$ref": "#/components/schemas/%s" % name}


def invoice():
    checkout = {"type": "object", "properties": {"paymentMethods": {"type": "array", "items": STRING}}}
    receipt = {"type": "object", "properties": {"enabled": BOOLEAN}}
    return obj(
        id=STRING,
        storeId=STRING,
        amount=DECIMAL,
        currency=STRING,
        type={"const": "Standard"},
        checkoutLink={"type": "string", "format": "uri"},
        status={"enum": list(shapes.STATUSES)},
        additionalStatus={
            "enum": [shapes.NONE, shapes.PAID_PARTIAL, shapes.PAID_OVER, shapes.PAID_LATE, shapes.MARKED]
        },
        createdTime=UNIX,
        expirationTime=UNIX,
        monitoringExpiration=UNIX,
        monitoringTime=UNIX,
        archived=BOOLEAN,
        availableStatusesForManualMarking={"type": "array", "items": {"enum": list(shapes.MARKABLE)}},
        metadata=OBJECT,
        checkout=checkout,
        receipt=receipt,
    )


def invoice_request():
    checkout = {
        "type": ["object", "null"],
        "properties": {
            "speedPolicy": nullable({"enum": list(shapes.SPEEDS)}),
            "paymentMethods": nullable({"type": "array", "items": STRING}),
            "expirationMinutes": nullable({"type": "number"}),
            "monitoringMinutes": nullable({"type": "number"}),
            "paymentTolerance": nullable({"type": "number"}),
            "redirectURL": nullable(STRING),
            "redirectAutomatically": nullable(BOOLEAN),
            "defaultLanguage": nullable(STRING),
        },
    }
    return {
        "type": "object",
        "properties": {
            "amount": {"anyOf": [DECIMAL, {"type": "number"}]},
            "currency": STRING,
            "metadata": {"type": ["object", "null"], "description": "Kept verbatim and echoed back."},
            "checkout": checkout,
        },
        "required": ["amount", "currency"],
    }


def invoice_payment():
    return obj(
        id={"type": "string", "description": "`txid-vout`"},
        receivedDate=UNIX,
        value=DECIMAL,
        fee=DECIMAL,
        status={"enum": ["Invalid", "Processing", "Settled"]},
        destination=STRING,
    )


def invoice_method():
    return obj(
        paymentMethodId=STRING,
        paymentMethod=STRING,
        cryptoCode=STRING,
        currency=STRING,
        destination=STRING,
        paymentLink=nullable(STRING),
        rate=DECIMAL,
        paymentMethodPaid=DECIMAL,
        totalPaid=DECIMAL,
        due=DECIMAL,
        amount=DECIMAL,
        paymentMethodFee=DECIMAL,
        networkFee=DECIMAL,
        activated=BOOLEAN,
        additionalData=OBJECT,
        payments={"type": "array", "items": ref("InvoicePayment")},
    )


def webhook(with_secret=False):
    events = obj(everything=BOOLEAN, specificEvents={"type": "array", "items": {"enum": list(shapes.EVENT_TYPES)}})
    fields = dict(id=STRING, enabled=BOOLEAN, automaticRedelivery=BOOLEAN, url=STRING, authorizedEvents=events)
    if with_secret:
        fields["secret"] = STRING
    return obj(**fields)


def webhook_request():
    events = {
        "type": ["object", "null"],
        "properties": {"everything": nullable(BOOLEAN), "specificEvents": nullable({"type": "array", "items": STRING})},
    }
    return {
        "type": "object",
        "properties": {
            "url": {"type": "string", "format": "uri"},
            "enabled": nullable(BOOLEAN),
            "automaticRedelivery": nullable(BOOLEAN),
            "authorizedEvents": events,
            "secret": nullable({"type": "string", "minLength": 1, "maxLength": 256}),
        },
    }


def delivery():
    return obj(
        id=STRING,
        timestamp=UNIX,
        httpCode=INTEGER,
        errorMessage=STRING,
        status={"enum": ["Failed", "HttpError", "HttpSuccess"]},
    )


def webhook_event():
    """The body of a delivery: the common fields, and each type's extra fields (optional)."""
    common = obj(
        deliveryId=STRING,
        webhookId=STRING,
        originalDeliveryId=STRING,
        isRedelivery=BOOLEAN,
        type={"enum": list(shapes.EVENT_TYPES)},
        timestamp=UNIX,
        storeId=STRING,
    )
    common["properties"].update(
        invoiceId=STRING,
        metadata=OBJECT,
        afterExpiration=BOOLEAN,
        paymentMethodId=STRING,
        paymentMethod=STRING,
        payment=ref("InvoicePayment"),
        overPaid=BOOLEAN,
        manuallyMarked=BOOLEAN,
        partiallyPaid=BOOLEAN,
        payoutId=STRING,
        pullPaymentId=STRING,
        payoutState={"enum": sorted(set(payout_states.GREENFIELD.values()))},
    )
    return common


def payouts():
    pull = obj(
        id=STRING,
        name=STRING,
        description=STRING,
        currency=STRING,
        amount=DECIMAL,
        period=INTEGER,
        BOLT11Expiration=INTEGER,
        archived=BOOLEAN,
        autoApproveClaims=BOOLEAN,
        startsAt=UNIX,
        expiresAt=nullable(UNIX),
        viewLink=STRING,
    )
    payout = obj(
        id=STRING,
        revision=INTEGER,
        pullPaymentId=STRING,
        date={"type": "string", "pattern": "^[0-9]+$", "description": "Unix seconds, as a string."},
        destination=STRING,
        amount=DECIMAL,
        paymentMethod=STRING,
        payoutMethodId=STRING,
        cryptoCode=STRING,
        paymentMethodAmount=DECIMAL,
        state={"enum": sorted(set(payout_states.GREENFIELD.values()))},
        transactionId=STRING,
    )
    return {"PullPayment": pull, "Payout": payout}


def server():
    sync = obj(
        paymentMethodId=STRING,
        cryptoCode=STRING,
        chainHeight=INTEGER,
        syncHeight=INTEGER,
        nodeInformation={"type": "null"},
        available=BOOLEAN,
    )
    info = obj(
        version=STRING,
        transientVersion=STRING,
        onion={"type": "null"},
        supportedPaymentMethods={"type": "array", "items": STRING},
        fullySynched=BOOLEAN,
        syncStatus={"type": "array", "items": sync},
    )
    key = obj(apiKey=STRING, label=STRING, permissions={"type": "array", "items": STRING})
    store = obj(
        ("id", "name", "defaultCurrency", "speedPolicy"),
        id=STRING,
        name=STRING,
        defaultCurrency=STRING,
        invoiceExpiration=INTEGER,
        monitoringExpiration=INTEGER,
        speedPolicy={"enum": list(shapes.SPEEDS)},
        paymentTolerance={"type": "number"},
        defaultPaymentMethod=nullable(STRING),
    )
    method = obj(("paymentMethodId", "enabled"), paymentMethodId=STRING, enabled=BOOLEAN, config=OBJECT)
    return {"ServerInfo": info, "ApiKey": key, "Store": store, "StorePaymentMethod": method}


def components():
    """The ``components`` of the document: schemas and the key's security scheme."""
    schemas = {
        "Error": obj(("code", "message"), code=STRING, message=STRING, missingPermission=STRING),
        "ValidationErrors": {"type": "array", "items": obj(path=STRING, message=STRING), "minItems": 1},
        "Invoice": invoice(),
        "InvoiceRequest": invoice_request(),
        "InvoicePayment": invoice_payment(),
        "InvoicePaymentMethod": invoice_method(),
        "Webhook": webhook(),
        "WebhookWithSecret": webhook(with_secret=True),
        "WebhookRequest": webhook_request(),
        "WebhookDelivery": delivery(),
        "WebhookEvent": webhook_event(),
        **payouts(),
        **server(),
    }
    permissions = "".join("\n- `%s` (Transient scope `%s`)" % item for item in shapes.PERMISSIONS.items())
    scheme = {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "`token <key>` (Greenfield's) or `Bearer <key>`. BTCPay permissions and the scopes that"
        " grant them:" + permissions,
    }
    return {"schemas": schemas, "securitySchemes": {"apiKey": scheme}}
