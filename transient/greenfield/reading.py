"""Reading a Greenfield invoice request (§3.5) and the list's query: every field checked,
``null`` accepted wherever a field is optional (the clients send it), each error named by
its path (a 422's array). Pure: nothing here touches the database."""

import datetime
from decimal import Decimal

from . import shapes

# A metadata number is echoed as its text: it is bounded so that every client reads it
# as a finite number (a double's range) and none of ours turns it into a huge integer.
MAX_DIGITS = 40
MAX_EXPONENT = 300


def metadata_numbers(value, path, errors):
    """Check every number in ``value`` (numbers parse as int or Decimal) against the
    bounds; append (path, message) to ``errors`` for each one out of them."""
    if isinstance(value, dict):
        for key, item in value.items():
            metadata_numbers(item, "%s.%s" % (path, key), errors)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            metadata_numbers(item, "%s[%d]" % (path, i), errors)
    elif isinstance(value, Decimal):
        digits = value.as_tuple().digits  # no arithmetic: 1e999999 stays cheap
        if len(digits) > MAX_DIGITS or not -MAX_EXPONENT <= value.adjusted() <= MAX_EXPONENT:
            errors.append((path, _OUT_OF_RANGE))
    elif isinstance(value, int) and not isinstance(value, bool) and not -(10**MAX_DIGITS) < value < 10**MAX_DIGITS:
        errors.append((path, _OUT_OF_RANGE))


_OUT_OF_RANGE = "is out of range (a number of at most %d digits, exponent within %d)" % (MAX_DIGITS, MAX_EXPONENT)


def int_param(value, name, default, hi=2**31):
    if value is None:
        return default
    text = str(value).strip()
    if not text.isascii() or not text.isdigit() or int(text) > hi:
        raise shapes.FieldErrors([(name, "must be a whole number from 0 to %d" % hi)])
    return int(text)


def read_request(body, coins, options):
    """Return the fields of a create request (§3.5), or raise FieldErrors naming each path.

    ``null`` is accepted wherever a field is optional (the clients send it)."""
    if not isinstance(body, dict):
        raise shapes.FieldErrors([("body", "must be a JSON object")])
    errors = []
    checkout = _object(body, "checkout", errors)
    currency, amount = _currency_and_amount(body, errors)
    metadata = _object(body, "metadata", errors)
    metadata_numbers(metadata, "metadata", errors)
    order_id = metadata.get("orderId")
    if order_id is not None:
        order_id = str(order_id)
        if len(order_id) > 255:
            errors.append(("metadata.orderId", "must be at most 255 characters"))
    speed = checkout.get("speedPolicy")
    if speed is not None and (not isinstance(speed, str) or speed not in shapes.SPEEDS):
        errors.append(("checkout.speedPolicy", "must be one of %s" % ", ".join(shapes.SPEEDS)))
    methods = _methods(checkout.get("paymentMethods"), currency, coins, errors)
    expiration = _minutes(checkout, "expirationMinutes", options["expiration_minutes"], errors)
    monitoring = _minutes(checkout, "monitoringMinutes", options["monitoring_minutes"], errors)
    tolerance = _tolerance(checkout, options, errors)
    redirect = _checkout_options(checkout, errors)
    if errors:
        raise shapes.FieldErrors(errors)
    description = metadata.get("itemDesc")
    speed_name = speed or options["speed_policy"]
    return {
        "currency": currency,
        "amount": amount,
        "metadata": metadata,
        "order_id": order_id,
        "description": description[:200] if isinstance(description, str) else None,
        "methods": methods,
        "confirmations": shapes.SPEEDS.get(speed_name),
        "expiration_minutes": expiration,
        "monitoring_minutes": monitoring,
        "tolerance": tolerance,
        "redirect_url": redirect or None,
        "checkout": {
            "speedPolicy": speed_name,
            "defaultPaymentMethod": checkout.get("defaultPaymentMethod"),
            "expirationMinutes": expiration,
            "monitoringMinutes": monitoring,
            "paymentTolerance": number(tolerance),
            "redirectURL": redirect or None,
            "redirectAutomatically": bool(checkout.get("redirectAutomatically")),
            "requiresRefundEmail": checkout.get("requiresRefundEmail"),
            "defaultLanguage": checkout.get("defaultLanguage"),
            "checkoutType": checkout.get("checkoutType"),
        },
    }


def _object(body, key, errors):
    """The object at ``key`` (null or missing: an empty one)."""
    value = body.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors.append((key, "must be an object or null"))
        return {}
    return value


def _currency_and_amount(body, errors):
    """``(currency code, amount text)``: both required."""
    currency = body.get("currency")
    if not isinstance(currency, str) or not currency.strip():
        errors.append(("currency", "is required, e.g. USD or LTC"))
        currency = ""
    amount = None
    if body.get("amount") is None:
        errors.append(("amount", "is required (top-up invoices without an amount are not supported)"))
    else:
        try:
            amount = shapes.money_text(shapes.decimal_of(body["amount"], "amount"))
        except shapes.FieldErrors as exc:
            errors += exc.errors
    return currency.strip().upper(), amount


def _tolerance(checkout, options, errors):
    """The underpayment tolerance in percent, as text (the store's default when null)."""
    tolerance = checkout.get("paymentTolerance")
    if tolerance is None:
        tolerance = options["payment_tolerance"]
    try:
        text = shapes.money_text(shapes.decimal_of(tolerance, "checkout.paymentTolerance", positive=False))
    except shapes.FieldErrors as exc:
        errors += exc.errors
        return "0"
    if Decimal(text) >= 100:
        errors.append(("checkout.paymentTolerance", "must be below 100 (percent)"))
    return text


def _checkout_options(checkout, errors):
    """Check the checkout's options that are only echoed; return its redirect URL."""
    redirect = checkout.get("redirectURL")
    if redirect is not None and not isinstance(redirect, str):
        errors.append(("checkout.redirectURL", "must be a URL or null"))
    for key in ("redirectAutomatically", "requiresRefundEmail"):
        if checkout.get(key) is not None and not isinstance(checkout[key], bool):
            errors.append(("checkout.%s" % key, "must be true, false or null"))
    for key in ("defaultPaymentMethod", "defaultLanguage", "checkoutType"):
        if checkout.get(key) is not None and not (isinstance(checkout[key], str) and len(checkout[key]) <= 64):
            errors.append(("checkout.%s" % key, "must be a short string or null"))
    return redirect


def _methods(value, currency, coins, errors):
    """The coins an invoice offers: those of ``paymentMethods`` (null: every coin); an
    invoice priced in a coin is paid in that coin."""
    if value is None:
        wanted = sorted(coins)
    elif not isinstance(value, list):
        errors.append(("checkout.paymentMethods", "must be a list of payment method ids or null"))
        return []
    else:
        wanted, unsupported = [], False
        for item in value:
            code = shapes.parse_method(item, coins)
            if code is None:
                errors.append(("checkout.paymentMethods", "Unsupported payment method: %s" % item))
                unsupported = True
            elif code not in wanted:
                wanted.append(code)
        if unsupported:
            return wanted
    if currency in coins:
        if currency not in wanted and value is not None:
            errors.append(("checkout.paymentMethods", "an invoice in %s is paid with %s-CHAIN" % (currency, currency)))
        return [currency]
    if not wanted and value is not None:
        errors.append(("checkout.paymentMethods", "must name at least one payment method"))
    return wanted


def _minutes(checkout, key, default, errors):
    """Minutes from the request (Greenfield sends whole minutes; a decimal such as 0.5 is
    taken too, down to one second), or ``default``."""
    value = checkout.get(key)
    if value is None:
        return default
    try:
        minutes = shapes.decimal_of(value, "checkout.%s" % key)
    except shapes.FieldErrors as exc:
        errors += exc.errors
        return default
    if not Decimal(1) / 60 <= minutes <= 525600:
        errors.append(("checkout.%s" % key, "must be from 1 second to 525600 minutes"))
        return default
    return number(shapes.money_text(minutes))


def span(minutes):
    """A timedelta of ``minutes`` (an int, or a float read from an exact decimal), whole seconds."""
    return datetime.timedelta(seconds=int(round(Decimal(str(minutes)) * 60)))


def number(text):
    value = Decimal(text)
    return int(value) if value == value.to_integral_value() else float(value)
