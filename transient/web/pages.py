"""The one way to render a page: a Jinja2 environment with autoescaping on and the i18n
extension, over a room's own templates and the shared layout (``templates/base.html``,
which every page extends).

The Python side hands a template plain values (strings, numbers, lists), never HTML. The
translations are the gettext catalogs of each room (the checkout's five languages); a
page is rendered with its language's ``gettext`` in the context, which is where the i18n
extension's ``_()`` looks for it. Messages keep ``{name}`` placeholders (the catalogs' and
checkout.js's form): ``|fill`` puts markup into a translated message after escaping it.
"""

import functools
import html

from markupsafe import Markup

#: Headers every HTML page sends (the Content-Security-Policy is each page's own).
SAFE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class _KeepUnknown(dict):
    def __missing__(self, key):
        return "{%s}" % key


def escaped(value):
    """``value`` as HTML: Markup as it is, anything else through html.escape (quotes too).
    The environment's ``finalize``: every ``{{ }}`` goes through it before autoescaping, so
    the pages write the same entities they always have (``&quot;``, ``&#x27;``)."""
    if hasattr(value, "__html__"):
        return value
    return Markup(html.escape(str(value)))


def fill(message, fragments=None, **more):
    """The translated ``message`` escaped, with each ``{name}`` that ``fragments`` names
    replaced by its value (Markup is kept, text escaped); other ``{name}``s stay as they are
    (checkout.js fills those)."""
    values = _KeepUnknown({k: escaped(v) for k, v in dict(fragments or {}, **more).items()})
    return escaped(message).format_map(values)


def hidden(shown):
    """`` hidden`` (an attribute) when ``shown`` is empty: ``<p{{ hidden(x) }}>``."""
    return "" if shown else Markup(" hidden")


@functools.cache
def environment(*packages):
    """The Environment over the templates of ``packages`` (each one's ``templates/``
    folder), then the shared layout's; built once per set of packages."""
    import jinja2  # on the first page: an idle worker serves JSON and never renders one

    loaders = [jinja2.PackageLoader(name, "templates") for name in (*packages, __package__)]
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a name the Python side forgot is an error, not ""
        extensions=["jinja2.ext.i18n"],
        keep_trailing_newline=True,
        finalize=escaped,
    )
    env.filters["fill"] = fill
    env.globals["hidden"] = hidden
    return env


class Templates:
    """``environment(*packages)``, built on first use: a module with pages holds one of
    these, so importing it does not load jinja2 (an idle worker renders no page)."""

    def __init__(self, *packages):
        self.packages = packages

    def __getattr__(self, name):
        return getattr(environment(*self.packages), name)


def messages(env, name):
    """The msgids of template ``name`` (and nothing of the layout), in order, once each:
    what a catalog's .pot lists."""
    source = env.loader.get_source(env, name)[0]
    seen = {}
    for _line, _function, message in env.extract_translations(source):
        if isinstance(message, str):
            seen.setdefault(message, None)
    return list(seen)


def render(env, name, gettext, **values):
    """The HTML of template ``name`` with ``values``, translated by ``gettext``."""
    return env.get_template(name).render(gettext=gettext, ngettext=_ngettext(gettext), **values)


def _ngettext(gettext):
    def ngettext(singular, plural, n):
        return gettext(singular if n == 1 else plural)

    return ngettext


def notice(title, *lines, css_href, icon_href="", lang="en"):
    """The HTML of a short page that says one thing (``notice.html``): a 404, a refusal."""
    env = environment()
    return render(env, "notice.html", str, title=title, lines=lines, css_href=css_href, icon_href=icon_href, lang=lang)
