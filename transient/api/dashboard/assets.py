"""The dashboard's own static files (a style sheet and a little plain script), served
under ``{path}/static/`` with their hash in the URL, like the checkout's."""

from importlib import resources as package_files

from ..checkout.page import Asset, StaticAsset

TYPES = {"js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8"}
FILES = ("dashboard.css", "dashboard.js")


def _load():
    static = package_files.files(__package__) / "static"
    return {name: Asset(name, (static / name).read_bytes(), TYPES[name.rsplit(".", 1)[1]]) for name in FILES}


ASSETS = _load()


def href(name, path):
    asset = ASSETS[name]
    return "%s/static/%s?v=%s" % (path, name, asset.version)


def resource():
    return StaticAsset(ASSETS)
