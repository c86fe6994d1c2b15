"""One message: plain text and HTML from the same template pair, in the recipient's
language, as the RFC 5322 text a ``mailto:`` delivery carries (Message-ID included).

No remote image, no script: the HTML is a few paragraphs and a link. Every value put in
a header is checked before (addresses at input, subjects made here from translated text
and amounts); the email package refuses a header with a line break all the same.
"""

import datetime
import functools
import gettext
import io
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from importlib import resources as package_files

from markupsafe import Markup, escape

from ..api.checkout.i18n import LANGUAGES, compile_mo, numbers, parse_po

UTC_TZ = datetime.timezone.utc
DOMAIN = "email"
SUBJECTS = {
    "paid": "Payment received: {amount} {currency}",
    "underpaid": "Payment incomplete: {due} {currency} still due",
    "paid_late": "Payment received after expiry",
    "refund_sent": "Refund sent: {amount} {currency}",
    "refund_claim": "Your refund of {amount} {currency}",
}


def _load():
    root = package_files.files(__package__) / "locale"
    catalogs = {"en": gettext.NullTranslations()}
    for lang in LANGUAGES[1:]:
        po = (root / lang / "LC_MESSAGES" / (DOMAIN + ".po")).read_text("utf-8")
        messages = dict(parse_po(po), **{"": "Content-Type: text/plain; charset=UTF-8\n"})
        catalogs[lang] = gettext.GNUTranslations(io.BytesIO(compile_mo(messages)))
    return catalogs


@functools.cache
def catalogs():
    """``{language: translations}`` of the messages, read on the first one."""
    return _load()


def language(value):
    """One of the five languages for ``value`` ("de-CH" is de); English otherwise."""
    lang = str(value or "").strip().lower().replace("_", "-").split("-")[0]
    return lang if lang in LANGUAGES else "en"


@functools.cache
def _environment(html):
    import jinja2  # on the first message, as the pages' (web.pages)

    env = jinja2.Environment(
        loader=jinja2.PackageLoader(__package__, "templates"),
        autoescape=html,
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        keep_trailing_newline=True,
    )
    env.filters["fill"] = _fill_html if html else _fill_text
    return env


def _fill_html(message, **values):
    return Markup(escape(message).format(**{k: escape(v) for k, v in values.items()}))


def _fill_text(message, **values):
    return message.format(**values)


def render(kind, lang, values):
    """Return ``(subject, text, html)`` of the message ``kind`` in ``lang``; amounts in
    ``values`` are written with the language's separators."""
    translate = catalogs()[lang].gettext
    shown = dict(values)
    fmt = numbers(lang)
    for key in ("amount", "received", "due"):
        if key in shown:
            shown[key] = fmt.format(shown[key])
    subject = translate(SUBJECTS[kind]).format(**shown)
    context = dict(shown, subject=subject, lang=lang, gettext=translate, ngettext=catalogs()[lang].ngettext)
    text = _environment(False).get_template(kind + ".txt").render(**context)
    html = _environment(True).get_template(kind + ".html").render(**context)
    return subject, text, html


def message(kind, lang, sender, recipient, values, key, now):
    """Return the whole message as RFC 5322 text (CRLF). ``key`` makes its Message-ID
    (the event and the kind: the same message has the same id on every attempt)."""
    subject, text, html = render(kind, lang, values)
    return _mail(subject, text, html, lang, sender, recipient, key, now)


def alert(lang, sender, recipient, subject, lines, key, now):
    """The merchant's alert ``subject`` with its paragraphs ``lines`` (said in ``lang``
    already) as a whole message: text and HTML from the templates alert.txt and alert.html."""
    translate = catalogs()[lang]
    context = dict(subject=subject, lines=lines, lang=lang, gettext=translate.gettext, ngettext=translate.ngettext)
    text = _environment(False).get_template("alert.txt").render(**context)
    html = _environment(True).get_template("alert.html").render(**context)
    return _mail("[Transient] " + subject, text, html, lang, sender, recipient, key, now)


def _mail(subject, text, html, lang, sender, recipient, key, now):
    mail = EmailMessage()
    mail["Subject"] = subject
    mail["From"] = sender
    mail["To"] = recipient
    mail["Date"] = format_datetime(now.replace(tzinfo=UTC_TZ))
    mail["Message-ID"] = make_msgid(idstring=key, domain=sender.rpartition("@")[2])
    mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-reply loops
    mail.set_content(text)
    mail.add_alternative(html, subtype="html")
    mail["Content-Language"] = lang  # after the content: set_content drops the Content-* headers
    return mail.as_string(policy=mail.policy.clone(linesep="\r\n"))
