"""The OpenAPI document (transient/api/openapi) against the app it describes: every route the
app serves is documented with the same methods and the scope its resource asks for, and
every documented route is served. A route added without its entry fails here, saying what
to add. (Greenfield's routes under /api/v1/ have their own: tests/unit/test_greenfield_openapi.py.)"""

import json
import re

import pytest
from fakes import fake_runtime
from falcon import inspect

from transient.api.openapi import document

pytestmark = pytest.mark.unit

FULL = '[rates]\nfiat = ["USD"]\n'  # every optional part of the app mounted
GREENFIELD = "/api/v1/"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    client, _ = fake_runtime(tmp_path_factory.mktemp("openapi"), extra=FULL)
    return client.app


def served(app):
    """{path template: {method, ...}} of every route, HEAD included."""
    return {r.path: {m.method.lower() for m in r.methods if not m.internal} for r in inspect.inspect_app(app).routes}


def resource(app, template):
    found = app._router.find(re.sub(r"\{[^}]+\}", "x1", template))
    assert found is not None and found[3] == template, template
    return found[0]


def test_every_route_is_documented_and_every_documented_route_served(app):
    doc = document()["paths"]
    routes = {path: methods for path, methods in served(app).items() if not path.startswith(GREENFIELD)}
    problems = []
    for path, methods in sorted(routes.items()):
        for method in sorted(methods - set(doc.get(path, {})) - {"head"}):  # HEAD comes with GET
            problems.append(
                "%s %s is served but not documented: add it to transient/api/openapi/ (paths.py, money.py or"
                ' pages.py: "%s": {"%s": operation(...)}; HEAD comes with GET)' % (method.upper(), path, path, method)
            )
    for path, item in sorted(doc.items()):
        for method in sorted(set(item) - routes.get(path, set())):
            problems.append(
                "%s %s is documented but not served: remove it from transient/api/openapi/"
                " (or mount the route in api/app.py)" % (method.upper(), path)
            )
    assert not problems, "\n".join(problems)


def test_each_operation_names_the_scope_its_resource_asks_for(app):
    wrong = []
    for path, item in document()["paths"].items():
        scopes = getattr(resource(app, path), "scopes", None) or {}
        for method, op in item.items():
            wanted = scopes.get("GET" if method == "head" else method.upper())
            if op.get("x-scope") != wanted:
                said = op.get("x-scope")
                wrong.append("%s %s: the resource asks for %r, the document says %r" % (method, path, wanted, said))
    assert not wrong, "\n".join(wrong)


def test_the_document_is_served_public_cached_and_valid_json(app, tmp_path):
    from falcon import testing

    client, runtime = fake_runtime(tmp_path, extra='[api]\nkeys = ["k-1234567890abcdef"]\n')
    answer = client.simulate_get("/openapi.json")  # no key: it is public
    assert answer.status_code == 200 and answer.headers["Cache-Control"].startswith("public")
    assert answer.json == json.loads(json.dumps(document())) and answer.json["openapi"] == "3.1.0"
    again = client.simulate_get("/openapi.json", headers={"If-None-Match": answer.headers["ETag"]})
    assert again.status_code == 304 and again.text == ""
    assert testing.TestClient(app).simulate_head("/openapi.json").status_code == 200


def test_names_owned_by_the_code_come_from_it():
    from transient.core import events, keys
    from transient.core import status as st

    doc = document()
    schemas = doc["components"]["schemas"]
    assert schemas["Payment"]["properties"]["status"]["enum"] == list(st.STATUSES)
    assert set(events.TYPES) <= set(schemas["Event"]["properties"]["type"]["enum"])
    for scope in keys.SCOPES:
        assert "`%s`" % scope in doc["components"]["securitySchemes"]["apiKey"]["description"]
