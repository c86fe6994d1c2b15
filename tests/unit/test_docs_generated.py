"""The generated reference pages (settings, command line, HTTP API) are what scripts/gen-docs
writes from the code today: a setting, a CLI option or a route added without regenerating
them fails here, naming the page."""

import importlib.machinery
import importlib.util
import os

import pytest

pytestmark = pytest.mark.unit

CHECKOUT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def gen_docs():
    path = os.path.join(CHECKOUT, "scripts", "gen-docs")
    loader = importlib.machinery.SourceFileLoader("gen_docs", path)
    spec = importlib.util.spec_from_loader("gen_docs", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_every_generated_page_is_up_to_date():
    stale = []
    for path, text in gen_docs().pages().items():
        with open(os.path.join(CHECKOUT, path), encoding="utf-8") as f:
            if f.read() != text:
                stale.append(path)
    assert not stale, "stale generated page(s) %s: run .venv/bin/python scripts/gen-docs and commit them" % stale


def test_the_settings_page_lists_every_key_and_its_environment_variable():
    from transient.settings import COIN_SETTINGS, SETTINGS

    page = gen_docs().settings_page()
    for s in SETTINGS:
        assert "| `%s` |" % s.key in page and "`%s`" % s.env in page
    for s in COIN_SETTINGS:
        assert "| `%s` |" % s.key in page


def test_the_cli_page_has_every_command_and_option():
    import argparse

    from transient.cli.commands import build_parser

    page = gen_docs().cli_page()
    pending = [(["transient"], build_parser())]
    while pending:
        path, parser = pending.pop()
        assert "# " + " ".join(path) + "\n" in page
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                pending += [(path + [name], sub) for name, sub in action.choices.items()]
            elif action.option_strings and not isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
                assert "`%s" % action.option_strings[0] in page, (path, action.option_strings)


def test_every_page_of_docs_is_in_the_site_nav():
    """mkdocs build --strict (.ci/run) fails on a broken link; this says which page a new
    guide forgot to add to mkdocs.yml's nav, without building the site."""
    with open(os.path.join(CHECKOUT, "mkdocs.yml"), encoding="utf-8") as f:
        nav = f.read().split("\nnav:\n", 1)[1]
    docs = os.path.join(CHECKOUT, "docs")
    missing = []
    for folder, _, files in os.walk(docs):
        for name in files:
            if name.endswith(".md"):
                page = os.path.relpath(os.path.join(folder, name), docs)
                if ": %s\n" % page not in nav:
                    missing.append(page)
    assert not missing, "add these pages to the nav of mkdocs.yml: %s" % sorted(missing)


def test_the_readme_is_a_front_door_whose_links_lead_somewhere():
    import re

    with open(os.path.join(CHECKOUT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    assert len(readme.splitlines()) < 250, "README.md is the front door: move the details into docs/"
    targets = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", readme)
    local = [t for t in targets if "://" not in t]
    assert "docs/getting-started.md" in local
    assert [t for t in local if not os.path.exists(os.path.join(CHECKOUT, t))] == []
