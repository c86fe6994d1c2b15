"""What every dashboard page shares: its context (the services it reads, built once), the
session cookie, the CSRF check of every form, the role an action needs, the headers, and
rendering through the one template environment (web.pages).

The dashboard never reads an Authorization header and the API never reads this cookie:
a session cannot call the API and an API key cannot open a page.
"""

import datetime
import logging
import urllib.parse
import zoneinfo
from dataclasses import dataclass, field

import falcon

from ...core.clock import utcnow
from ...store.db import write_transaction  # noqa: F401  (the actions' transaction)
from ...store.users import MANAGER, OWNER, ROLES
from ...web import pages
from ..checkout import i18n
from . import assets, wording

log = logging.getLogger("transient.dashboard")

COOKIE = "transient_session"
SIGNIN_COOKIE = "transient_signin"  # the sign-in forms' CSRF token (double submit), before a session exists
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
# same-origin, not no-referrer: with no-referrer a browser sends "Origin: null" on the
# dashboard's own forms, and the forms are checked by their Origin.
HEADERS = {"Content-Security-Policy": CSP, **pages.SAFE_HEADERS, "Referrer-Policy": "same-origin"}
PAGES = pages.Templates(__package__)
RANK = {role: n for n, role in enumerate(ROLES)}


@dataclass
class Dashboard:
    """The services the pages use (the API's own: nothing here queries on its own behalf
    what a service already answers), and the settings they follow."""

    accounts: object
    payments: object
    health: object
    db: object
    outbox: object
    sender: object
    key_store: object
    path: str = "/dashboard"
    time_zone: str = "UTC"
    webhook_url: str | None = None
    settings: list = field(default_factory=list)  # [(key, shown value, help)], secrets redacted
    payouts: object = None
    batches: object = None  # payouts.batches.Batches: watch-only coins' PSBTs
    refunds: object = None  # payouts.refunds.Refunds: a payment's refund button
    decimals: dict = field(default_factory=dict)  # {currency: decimals} of the configured coins
    targets: object = list  # () -> the configured delivery targets' URLs
    invoice_of: object = None  # (payment id) -> its Greenfield invoice's id, or None
    peers: object = None  # api.peers.Peers: the browser's address behind a trusted proxy
    secure: bool = False  # cookies only over TLS ([server] public_url is https)
    reports: object = None  # reports.service.Reports: the API's /reports/{kind} behind the download button

    @property
    def zone(self):
        return zoneinfo.ZoneInfo(self.time_zone)


def client_address(req, dash):
    """The browser's address as ``dash.peers`` (``[server] trusted_proxies``) tells it, or
    ``unknown`` (an undeclared proxy's clients share that one throttle)."""
    client = dash.peers.client(req) if dash.peers is not None else None
    return str(client) if client is not None else "unknown"


def is_secure(req, dash):
    proto = req.get_header("X-Forwarded-Proto") or ""
    return dash.secure or req.scheme == "https" or proto.lower() == "https"


def set_cookie(req, resp, dash, name, value, max_age=None):
    resp.set_cookie(
        name, value, max_age=max_age, path=dash.path, secure=is_secure(req, dash), http_only=True, same_site="Strict"
    )


def drop_cookie(req, resp, dash, name):
    set_cookie(req, resp, dash, name, "", max_age=0)


def same_origin(req):
    """False when the browser says the form came from another site (Sec-Fetch-Site, else
    Origin against Host): refused before anything is read."""
    site = req.get_header("Sec-Fetch-Site")
    if site and site not in ("same-origin", "none"):
        return False
    origin = req.get_header("Origin")
    if origin and origin != "null":
        return urllib.parse.urlsplit(origin).netloc == (req.get_header("Host") or "")
    return origin != "null"


def safe_next(dash, value):
    """``?next=`` only ever leads to a page of the dashboard (no other host, no scheme, no
    dot segment climbing out of it)."""
    value = value or ""
    inside = value == dash.path or value.startswith(dash.path + "/")
    segments = value.split("?")[0].split("/")
    if inside and not any(c in value for c in ("\\", "//", "\r", "\n", "@")) and not {".", ".."} & set(segments):
        return value
    return dash.path


def lang_of(req, user=None):
    """The page's language: ``?lang=`` when it names one of ours, else the user's own
    (their account page), else the browser's Accept-Language, else English."""
    asked = (req.get_param("lang") or "").strip().lower().replace("_", "-").split("-")[0]
    if asked in i18n.LANGUAGES:
        return asked
    if user is not None and user.language in i18n.LANGUAGES:
        return user.language
    return i18n.choose(None, req.get_header("Accept-Language"))


def zone_of(dash, user=None):
    """The time zone a user reads times in: their own, else ``[dashboard] time_zone``."""
    if user is not None and user.time_zone:
        try:
            return zoneinfo.ZoneInfo(user.time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass
    return dash.zone


def when(value, zone):
    """A stored naive-UTC time in the merchant's zone, to the second."""
    if value is None:
        return ""
    if isinstance(value, str):
        value = datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=None)
    local = value.replace(tzinfo=datetime.timezone.utc).astimezone(zone)
    return local.strftime("%Y-%m-%d %H:%M:%S %Z")


def render(req, resp, dash, name, session=None, status=falcon.HTTP_200, **values):
    user = session.user if session is not None else None
    lang, zone = lang_of(req, user), zone_of(dash, user)
    resp.status = status
    resp.content_type = "text/html; charset=utf-8"
    resp.set_headers(HEADERS)
    resp.set_header("Content-Language", lang)
    translate = i18n.gettext_for(lang, i18n.DASHBOARD)
    resp.text = pages.render(
        PAGES,
        name,
        translate,
        lang=lang,
        path=dash.path,
        user=user,
        role=user.role if user else None,
        can_act=bool(user and RANK[user.role] >= RANK[MANAGER]),
        is_owner=bool(user and user.role == OWNER),
        csrf=session.csrf if session is not None else "",
        css_href=assets.href("dashboard.css", dash.path),
        js_href=assets.href("dashboard.js", dash.path),
        zone=zone.key,
        site_zone=dash.time_zone,  # the overview's days
        when=lambda v: when(v, zone),
        num=i18n.numbers(lang).format,  # an amount's decimal string with the language's separators
        label=lambda code: wording.label(translate, code),  # a status's, state's or role's name
        said=lambda text: wording.said(translate, text),  # a service's "field: message"
        **values,
    )


N_ = wording.N_  # marks a message for dashboard.pot; ``refuse``'s message is marked without it

# What the accounts service says when it refuses (SignInRefused, Locked, a bad TOTP secret),
# shown on the sign-in and account pages: marked here for the catalog, translated there.
SERVICE_MESSAGES = (
    N_("wrong e-mail or password"),
    N_("wrong code"),
    N_("too many failed sign-ins: wait a few minutes and try again"),
    N_("wrong code: check the time on your phone and type the newest code"),
    N_("not a TOTP secret"),
    N_("the current password is wrong"),
)


def refuse(req, resp, dash, status, message, session=None):
    """A page that says no (nothing was done)."""
    render(req, resp, dash, "refused.html", session, status=status, message=message)


def redirect(resp, location):
    resp.status = falcon.HTTP_303
    resp.location = location
    resp.set_headers(HEADERS)
    resp.content_type = "text/plain; charset=utf-8"
    resp.text = "See %s\n" % location


UPLOAD_MAX = 2_000_000  # a file field's bytes (a PSBT of a thousand payouts is well under)


def form(req):
    """The submitted form as a dict of strings (the first of a repeated name); a
    multipart form's file fields as bytes (the first ``UPLOAD_MAX`` of each)."""
    kind = req.content_type or ""
    if kind.startswith("multipart/form-data"):
        data = {}
        for part in req.get_media():
            if part.name and part.name not in data:
                raw = part.stream.read(UPLOAD_MAX)
                data[part.name] = raw if part.filename else raw.decode("utf-8", "replace")
        return data
    if not kind.startswith("application/x-www-form-urlencoded"):
        return {}
    media = req.get_media(default_when_empty={})
    return {k: (v[0] if isinstance(v, list) else v) for k, v in (media or {}).items()}


class Page:
    """A dashboard resource: ``role`` reads it, ``act`` (a role) may post to it."""

    role = "viewer"
    act = MANAGER

    def __init__(self, dash):
        self.dash = dash

    def session(self, req, resp):
        """The signed-in session, or None after sending the browser to the sign-in page."""
        session = self.dash.accounts.session(req.cookies.get(COOKIE))
        if session is None or session.stage != "full":
            target = req.relative_uri if req.method == "GET" else self.dash.path
            redirect(resp, "%s/login?next=%s" % (self.dash.path, urllib.parse.quote(target, safe="")))
            return None
        if RANK[session.user.role] < RANK[self.role]:
            refuse(req, resp, self.dash, falcon.HTTP_403, "Your role cannot see this page.", session)
            return None
        return session

    def acting(self, req, resp):
        """``(session, form)`` of a POST that may act, or None after refusing it: another
        origin, no or a wrong CSRF token, or a role below ``act``. Nothing is written then."""
        if not same_origin(req):
            refuse(req, resp, self.dash, falcon.HTTP_403, "This form came from another site.")
            return None
        session = self.session(req, resp)
        if session is None:
            return None
        data = form(req)
        if not self.dash.accounts.csrf_ok(session, data.get("csrf")):
            refuse(req, resp, self.dash, falcon.HTTP_403, "The form was stale or forged: reload the page.", session)
            return None
        if RANK[session.user.role] < RANK[self.act]:
            refuse(req, resp, self.dash, falcon.HTTP_403, "Your role cannot do this.", session)
            return None
        return session, data

    def audit(self, req, session, action, kind, target, **detail):
        self.dash.accounts.audit(session.user.email, action, kind, target, client_address(req, self.dash), **detail)


def now():
    return utcnow()
