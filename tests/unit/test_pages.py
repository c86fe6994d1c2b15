"""The one way to render a page (transient.web.pages): autoescaping with the house's
entities, translated messages filled with markup, no forgotten value rendered as ""."""

import jinja2
import pytest
from markupsafe import Markup

from transient.web import pages


def test_fill_escapes_the_message_and_text_keeps_markup_and_unknown_names():
    said = pages.fill('<b>{who}</b> & {what} "{later}"', who="<i>", what=Markup("<em>x</em>"))
    assert said == "&lt;b&gt;&lt;i&gt;&lt;/b&gt; &amp; <em>x</em> &quot;{later}&quot;"


def test_every_value_is_escaped_with_quotes_and_a_missing_one_is_an_error():
    env = pages.environment("transient.api.checkout")
    template = env.from_string('<a title="{{ t }}">{{ t }}</a>{{ m }}')
    assert template.render(t="'\"<&>", m=Markup("<br>")) == (
        '<a title="&#x27;&quot;&lt;&amp;&gt;">&#x27;&quot;&lt;&amp;&gt;</a><br>'
    )
    with pytest.raises(jinja2.UndefinedError):
        template.render(t="x")


def test_a_notice_extends_the_layout():
    html = pages.notice("No <such> page", "Try again & again.", css_href="/s.css")
    assert html.startswith('<!doctype html>\n<html lang="en">') and '<meta name="robots" content="noindex">' in html
    assert "<h1>No &lt;such&gt; page</h1><p>Try again &amp; again.</p>" in html
