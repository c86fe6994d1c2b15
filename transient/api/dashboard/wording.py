"""What the dashboard shows of the services' own words, in the reader's language: the
names of payment statuses, receipt, payout and delivery states, roles and report kinds
(``label``: the page still sends the code itself in its forms), and the refusals the
services word as ``field: message`` (``said``: the message translated, the field's name
kept, since it names the form's field). Each is marked with ``N_`` for the catalog
(dashboard.pot); a message the catalog does not have is shown as the service said it."""

import re


def N_(message):
    """Mark ``message`` for the dashboard's catalog (dashboard.pot); the page that shows it
    translates it."""
    return message


# A code as the service stores it -> its message (English: the code itself, as the API says it).
LABELS = {
    # payment statuses (core.status.STATUSES)
    "UNPAID": N_("UNPAID"),
    "UNDERPAID": N_("UNDERPAID"),
    "PENDING": N_("PENDING"),
    "PAID": N_("PAID"),
    "OVERPAID": N_("OVERPAID"),
    "EXPIRED": N_("EXPIRED"),
    # a receipt's states (store.models.Receipt), a delivery's (Delivery)
    "pending": N_("pending"),
    "confirmed": N_("confirmed"),
    "conflicted": N_("conflicted"),
    "removed": N_("removed"),
    "delivered": N_("delivered"),
    # a payout's states (payouts.states.STATES)
    "awaiting_approval": N_("awaiting_approval"),
    "approved": N_("approved"),
    "awaiting_signature": N_("awaiting_signature"),
    "broadcast": N_("broadcast"),
    "completed": N_("completed"),
    "cancelled": N_("cancelled"),
    "failed": N_("failed"),
    # roles (store.users.ROLES)
    "viewer": N_("viewer"),
    "manager": N_("manager"),
    "owner": N_("owner"),
    # report kinds (reports.columns.KINDS)
    "payments": N_("payments"),
    "receipts": N_("receipts"),
    "payouts": N_("payouts"),
}

# The services' refusals a dashboard form can meet; {name} stands for what the service
# puts in (matched back out of its sentence).
SERVICE_MESSAGES = (
    N_("must be a date such as 2026-12-31"),
    N_("must be one of {choices}"),
    N_("must be one of {choices} (or several, comma-separated)"),
    N_("must be a currency code"),
    N_("must be a currency code such as LTC"),
    N_("must be csv or json"),
    N_("must be true or false"),
    N_("is required"),
    N_("unknown field"),
    N_("is not an address"),
    N_("is not a {coin} address of this node's network"),
    N_("is not an amount this coin can pay"),
    N_("is required for a Fiat refund of a payment given in coins"),
    N_("the payment received nothing: there is nothing to refund"),
    N_("is {now} now, not {then}"),
    N_("is in batch {batch} being sent: it cannot be cancelled"),
    N_("is not a cursor this API returned"),
    N_("must be a decimal number or string"),
    N_("must not be negative"),
    N_("must be a PSBT file or its base64 text"),
    N_("role must be one of {choices}"),
    N_("not an e-mail address"),
    N_("a password needs at least {n} characters"),
    N_("a user {email} exists already"),
    N_("the last owner keeps the owner role"),
    N_("is not an IANA time zone such as Europe/Berlin"),
)
_PLACEHOLDER = re.compile(r"\\\{(\w+)\\\}")
_PATTERNS = [(m, re.compile(_PLACEHOLDER.sub(r"(?P<\1>.+?)", re.escape(m)))) for m in SERVICE_MESSAGES if "{" in m]
_FIELD = re.compile(r"([A-Za-z_][\w.\[\]-]*): (.+)", re.S)


def label(gettext, code):
    """The name of ``code`` (a status, state, role or report kind) in the page's language."""
    message = LABELS.get(code)
    return gettext(message) if message else code


def _fill(message, values):
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), message)


def _message(gettext, text):
    for msgid, pattern in _PATTERNS:
        match = pattern.fullmatch(text)
        if match:
            return _fill(gettext(msgid), match.groupdict())
    return gettext(text)


def said(gettext, text):
    """A refusal in the page's language: a whole sentence the catalog has, else
    ``field: message`` with the message translated and the field's name as it is."""
    text = str(text or "")
    if not text:
        return ""
    whole = gettext(text)
    if whole != text:
        return whole
    match = _FIELD.fullmatch(text)
    if match:
        return "%s: %s" % (match.group(1), _message(gettext, match.group(2)))
    return _message(gettext, text)
