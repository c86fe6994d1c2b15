"""The checkout page's languages: gettext catalogs, the language a request asks for, and
numbers written the way each language writes them.

The catalogs are standard gettext ``.po`` files (``locale/<lang>/LC_MESSAGES/checkout.po``,
and ``dashboard.po`` beside it for the merchant's dashboard, whose ``dashboard.pot`` lists
the messages of api/dashboard/templates and of the refusals its Python code words),
the format every translation tool edits; ``checkout.pot`` holds the English messages of the
template (``[[...]]`` in templates/checkout.html). They are compiled to the ``.mo`` format in
memory when the module loads and read with Python's own :mod:`gettext`: no build step, no
binary in the repository, no dependency. Numbers are formatted by a small table of each
language's separators rather than Babel: amounts are decimal strings whose digits must not
change (``1.50000001`` stays exactly that), and the five languages need only two separators
and a grouping rule each.
"""

import ast
import functools
import gettext
import io
import re
import struct
from dataclasses import dataclass
from importlib import resources as package_files

DOMAIN = "checkout"
DASHBOARD = "dashboard"  # the merchant's dashboard's messages (api/dashboard/templates), same languages
DEFAULT = "en"


@dataclass(frozen=True)
class NumberFormat:
    decimal: str
    group: str
    min_group: int  # digits before the first group separator appears: 4 (1,234) or 5 (12 345)

    def format(self, text):
        """Write the decimal string ``text`` (``-12345.678``) with this language's separators;
        every digit is kept, nothing is rounded. Anything else is returned as it is."""
        match = re.fullmatch(r"(-?)([0-9]+)(?:\.([0-9]+))?", str(text))
        if not match:
            return str(text)
        sign, whole, frac = match.groups()
        if len(whole) >= self.min_group:
            head = len(whole) % 3 or 3
            whole = self.group.join([whole[:head]] + [whole[i : i + 3] for i in range(head, len(whole), 3)])
        return sign + whole + (self.decimal + frac if frac else "")


# CLDR's separators (fr: a narrow no-break space; es groups from five digits; pt as in Brazil).
NUMBERS = {
    "en": NumberFormat(".", ",", 4),
    "de": NumberFormat(",", ".", 4),
    "es": NumberFormat(",", ".", 5),
    "fr": NumberFormat(",", "\u202f", 4),
    "pt": NumberFormat(",", ".", 4),
}
LANGUAGES = tuple(NUMBERS)


def parse_po(text):
    """Return ``{msgid: msgstr}`` of a .po file's translated, non-fuzzy entries (the
    header, msgid "", is left out)."""
    entries = {}
    entry, key, fuzzy = {}, None, False
    for line in [*text.splitlines(), ""]:
        line = line.strip()
        word, _, rest = line.partition(" ")
        if not line or (word == "msgid" and "msgstr" in entry) or (line.startswith("#") and "msgstr" in entry):
            if entry.get("msgid") and entry.get("msgstr") and not fuzzy:
                entries[entry["msgid"]] = entry["msgstr"]
            entry, key, fuzzy = {}, None, False
        if line.startswith("#"):
            fuzzy = fuzzy or (line.startswith("#,") and "fuzzy" in line)
        elif word in ("msgid", "msgstr"):
            key = word
            entry[key] = ast.literal_eval(rest)  # a C-style quoted string: \" \\ \n \t
        elif line.startswith('"') and key:
            entry[key] += ast.literal_eval(line)
    return entries


def compile_mo(messages):
    """Return the GNU .mo bytes of ``{msgid: msgstr}`` (the layout msgfmt writes)."""
    keys = sorted(messages)
    ids = [k.encode() for k in keys]
    strs = [messages[k].encode() for k in keys]
    start = 7 * 4 + 16 * len(keys)
    offsets, blob = [], b""
    for data in ids + strs:
        offsets.append((len(data), start + len(blob)))
        blob += data + b"\0"
    table = b"".join(struct.pack("<2I", n, o) for n, o in offsets)
    header = struct.pack("<7I", 0x950412DE, 0, len(keys), 7 * 4, 7 * 4 + 8 * len(keys), 0, 0)
    return header + table + blob


def _load(domain):
    root = package_files.files(__package__) / "locale"
    catalogs = {DEFAULT: gettext.NullTranslations()}
    for lang in LANGUAGES[1:]:
        po = (root / lang / "LC_MESSAGES" / (domain + ".po")).read_text("utf-8")
        messages = dict(parse_po(po), **{"": "Content-Type: text/plain; charset=UTF-8\n"})
        catalogs[lang] = gettext.GNUTranslations(io.BytesIO(compile_mo(messages)))
    return catalogs


@functools.cache
def catalogs(domain=DOMAIN):
    """``{language: translations}`` of ``domain`` (DOMAIN or DASHBOARD), read on first use:
    an idle worker serves no page, and the catalogs are ~0.5 MB."""
    return _load(domain)


def choose(requested=None, accept_language=None):
    """Return the page's language: ``?lang=`` when it names one of ours, else the first of
    Accept-Language's (by q value, ``de-CH`` counting as ``de``) that we have, else English."""
    if requested:
        lang = requested.strip().lower().replace("_", "-").split("-")[0]
        if lang in LANGUAGES:
            return lang
    ranked = []
    for position, item in enumerate((accept_language or "").split(",")):
        tag, _, params = item.strip().partition(";")
        q = 1.0
        match = re.search(r"q\s*=\s*([0-9.]+)", params)
        if match:
            try:
                q = float(match.group(1))
            except ValueError:
                q = 0.0
        lang = tag.strip().lower().split("-")[0]
        if lang in LANGUAGES and q > 0:
            ranked.append((-q, position, lang))
    return min(ranked)[2] if ranked else DEFAULT


def gettext_for(lang, domain=DOMAIN):
    """The ``gettext`` function of ``lang`` in ``domain``'s catalog (English: the message
    itself)."""
    found = catalogs(domain)
    return found.get(lang, found[DEFAULT]).gettext


def numbers(lang):
    return NUMBERS.get(lang, NUMBERS[DEFAULT])
