"""The dashboard's English messages, as ``dashboard.pot`` lists them (beside the checkout's
catalogs, api/checkout/locale): each template's ``_("...")``, then the sentences its
Python code words for a page to show (given to ``web.refuse`` or marked ``web.N_``), which
the page translates as it shows them. scripts/checkout-messages writes the .pot from this
and merges it into each language's dashboard.po."""

import ast
from importlib import resources

from ...web import pages
from . import web

MARKERS = ("refuse", "N_")


def template_messages():
    names = sorted(f.name for f in (resources.files(__package__) / "templates").iterdir() if f.name.endswith(".html"))
    found = {}
    for name in names:
        for message in pages.messages(web.PAGES, name):
            found.setdefault(message, None)
    return list(found)


def code_messages():
    """The string literals handed to ``refuse(...)`` or ``N_(...)`` in this package's modules."""
    found = {}
    sources = sorted(f for f in resources.files(__package__).iterdir() if f.name.endswith(".py"))
    for source in sources:
        for node in ast.walk(ast.parse(source.read_text("utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
            if name in MARKERS:
                for arg in node.args:
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        found.setdefault(arg.value, None)
                        break
    return list(found)


def messages():
    found = template_messages()
    return found + [m for m in code_messages() if m not in found]
