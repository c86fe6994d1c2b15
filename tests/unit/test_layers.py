"""The house's rooms and the way their imports point (docs/ARCHITECTURE.md).

Every module's imports are read with ast (nothing is imported): an import from a
higher room, or a cycle between modules, fails with the modules that make it.
Imports inside functions are allowed only for the optional heavy libraries.
"""

import ast
import functools
import pathlib
import tomllib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]

# Each room and the rank it stands at: a module may import its own room and rooms of a
# lower rank, never a higher one. Rooms of the same rank do not import each other.
RANKS = {
    "transient": 0,  # the package itself: hookimpl and the version
    "transient.core": 0,
    "transient.hookspecs": 0,
    "transient.store": 1,
    "transient.ops": 1,
    "transient.web": 1,  # the one Jinja2 environment and base layout of every page (core only)
    "transient.delivery": 2,
    "transient.rates": 2,  # fiat rates: sources, pure rules, stored quotes, refresher (core and store only)
    "transient.accounts": 2,  # dashboard users: passwords, TOTP, sessions, throttling, audit (core, store, ops)
    "transient.webhooks": 3,  # the public module for webhook receivers
    "transient.chain": 3,  # writes events into the outbox
    "transient_backends": 4,  # the built-in backends: the chain's interface over JSON-RPC
    "transient.payments": 4,
    "transient.payouts": 4,  # refunds and payouts: the outgoing side of the ledger
    "transient.plugin": 5,  # the public module for plugin authors
    "transient.devnet": 5,
    "transient.reports": 5,  # the accountant's files and the reconciliation (reads payments, payouts, chain)
    "transient.amqp": 6,
    "transient.greenfield": 6,  # BTCPay Greenfield's domain: invoices, status rule, projection, webhook service
    "transient.api": 7,
    "transient.email": 8,  # e-mail to customers and the merchant (the checkout's catalogs, the delivery queue)
    "transient.settings": 9,  # the one table of settings: knows each room's validators
    "transient.runtime": 10,  # the one place that builds and wires
    "transient.cli": 11,
    "transientd": 12,
    "transient_bitcoin": 6,  # third-party-style plugins: only transient.plugin
    "transient_litecoin": 6,
}
# The rooms that must not import each other although neither is above the other.
SIBLINGS = [
    {"transient.store", "transient.ops", "transient.web"},
    {"transient.delivery", "transient.rates", "transient.accounts"},
    {"transient.webhooks", "transient.chain"},
    {"transient_backends", "transient.payments", "transient.payouts"},
    {"transient.plugin", "transient.devnet", "transient.reports"},
    {"transient.amqp", "transient.greenfield"},
]
# Optional or heavy libraries a function may import when it needs them (each says why).
# prometheus_client: it reads PROMETHEUS_MULTIPROC_DIR at import, so the master (which
# makes that directory) imports it only after ops.rundir.prepare().
# jinja2: only a page or an e-mail needs it, and an idle worker renders neither (~2 MB);
# embit: only a watch-only key (~1 MB); playhouse: only a migration or a database other than
# SQLite; smtplib and email (its policies): only a worker that sends mail (~0.5 MB).
LAZY = {
    "jinja2",
    "playhouse",
    "smtplib",
    "email",
    "embit",
    "qrcode",
    "PIL",
    "pika",
    "psycopg2",
    "dotenv",
    "fcntl",
    "json",
    "importlib",
    "prometheus_client",
}
# Own modules imported inside a function, and why.
LAZY_OWN = {
    ("transient.runtime.build", "transient.amqp.bridge"): "pika, only where [amqp] url is set",
    ("transientd", "transient.runtime"): "the daemon's master never loads the app (each worker does)",
    ("transientd", "transient.settings"): "nor the settings (a forked child loads the config, and each worker)",
    ("transientd", "transient.ops.memory"): "likewise",
}
# The only modules a third-party-style plugin may import from Transient.
PLUGIN_API = {"transient.plugin"}
PLUGINS = {"transient_bitcoin", "transient_litecoin"}


def sources():
    files = {}
    for path in sorted((ROOT / "transient").rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        files[".".join(parts)] = path
    for path in sorted((ROOT / "backends").glob("*.py")):
        name = "transient_backends" if path.stem == "__init__" else "transient_backends." + path.stem
        files[name] = path
    for plugin in ("bitcoin", "litecoin"):
        path = ROOT / "plugins" / plugin / ("transient_" + plugin) / "__init__.py"
        files["transient_" + plugin] = path
    files["transientd"] = ROOT / "transientd.py"
    return files


FILES = sources()


def room(module):
    """The room (a key of RANKS) ``module`` belongs to."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in RANKS:
            return ".".join(parts[:n])
    raise AssertionError("%s is in no room: add it to RANKS in this test and to docs/ARCHITECTURE.md" % module)


@functools.lru_cache(maxsize=None)  # each file is parsed once for all the tests here
def imports(module, path):
    """Return ``[(imported module, line, inside a function)]`` of the project's own modules,
    and the names of the lazily imported libraries (tuples: the answer is shared)."""
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found, lazy = [], []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            # "from transient.api import app": the module imported may be the name.
            targets = [target + "." + a.name if target + "." + a.name in FILES else target for a in node.names]
        else:
            continue
        inner = _inside_function(tree, node)
        for target in targets:
            if target in FILES or target.split(".")[0] in ("transient", "transient_backends") or target in RANKS:
                found.append((target, node.lineno, inner))
            elif inner:
                lazy.append((target.split(".")[0], node.lineno))
    return tuple(found), tuple(lazy)


def _inside_function(tree, target):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for child in ast.walk(node):
                if child is target:
                    return True
    return False


def test_every_module_is_in_a_room_with_a_docstring():
    for module, path in FILES.items():
        room(module)
        if path.name == "__init__.py" and module in RANKS.keys() - PLUGINS | {"transient.api.checkout"}:
            doc = ast.get_docstring(ast.parse(path.read_text()))
            assert doc and "import" in doc, "%s/__init__.py must say what the room holds and may import" % module


def test_imports_point_down_only():
    wrong = []
    for module, path in FILES.items():
        here = room(module)
        for target, line, _ in imports(module, path)[0]:
            there = room(target)
            if there == here or there == "transient":
                continue
            if here.startswith("transient_") and here != "transient_backends" and target not in PLUGIN_API:
                wrong.append("%s:%d imports %s (a plugin imports only transient.plugin)" % (path.name, line, target))
            elif RANKS[there] > RANKS[here] or any({here, there} <= s for s in SIBLINGS):
                wrong.append(
                    "%s:%d: %s (%s) imports %s (%s)" % (path.relative_to(ROOT), line, module, here, target, there)
                )
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles():
    graph = {m: {t for t, _, inner in imports(m, p)[0] if t in FILES and t != m} for m, p in FILES.items()}
    # A package's __init__ that re-exports its own modules is not a cycle with them.
    for m in graph:
        graph[m] = {t for t in graph[m] if not (m.startswith(t + ".") and FILES[t].name == "__init__.py")}
    seen, stack, cycles = set(), [], []

    def visit(node):
        if node in stack:
            cycles.append(stack[stack.index(node) :] + [node])
            return
        if node in seen:
            return
        seen.add(node)
        stack.append(node)
        for nxt in sorted(graph[node]):
            visit(nxt)
        stack.pop()

    for module in sorted(graph):
        visit(module)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_imports_inside_functions_are_only_for_heavy_optional_libraries():
    wrong = []
    for module, path in FILES.items():
        own, lazy = imports(module, path)
        wrong += [
            "%s:%d imports %s inside a function" % (path.relative_to(ROOT), line, target)
            for target, line, inner in own
            if inner and (module, target) not in LAZY_OWN
        ]
        wrong += [
            "%s:%d imports %s inside a function (not an optional heavy library)" % (path.relative_to(ROOT), line, lib)
            for lib, line in lazy
            if lib not in LAZY
        ]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("plugin", ["bitcoin", "litecoin"])
def test_the_shipped_plugins_import_only_the_public_module(plugin):
    module = "transient_" + plugin
    targets = {t for t, _, _ in imports(module, FILES[module])[0]}
    assert targets == PLUGIN_API


def test_every_package_ships_in_the_wheel():
    """The packages are found, not listed (setup.py; the hand list once lacked rates and
    reports). Discovery takes a directory with an ``__init__.py``: one of modules without it
    imports in the tree (a namespace package) and is missing from the wheel. The built wheel
    against the tree, file for file: scripts/check-install."""
    assert "packages" not in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    rooms = {p.parent for top in ("transient", "backends") for p in (ROOT / top).rglob("*.py")}
    lacking = sorted(str(d.relative_to(ROOT)) for d in rooms if not (d / "__init__.py").exists())
    assert lacking == [], "give these an __init__.py, or the wheel goes without them"


#: What transientd's master may not import before it forks the workers: the metric families
#: (prometheus_client picks its multiprocess mode at import, before the run directory
#: exists: the workers' counters were then each their own, and /metrics summed nothing)
#: and the store (peewee imports psycopg2, and every SQLite worker carried libpq); nor the
#: settings, which import every room's validators and with them Falcon, Jinja2, requests
#: and embit: ~15 MB the master would hold for as long as the daemon runs.
MASTER_MUST_NOT = ("transient.ops.metrics", "transient.store", "transient.settings", "transient.api")


def test_the_daemon_s_master_imports_neither_the_metrics_nor_the_store():
    closure, todo = set(), ["transientd"]
    while todo:
        module = todo.pop()
        if module in closure:
            continue
        closure.add(module)
        parts = module.split(".")
        todo += [".".join(parts[:n]) for n in range(1, len(parts)) if ".".join(parts[:n]) in FILES]
        todo += [t for t, _, inner in imports(module, FILES[module])[0] if t in FILES and not inner]
    found = sorted(m for m in closure if m.startswith(MASTER_MUST_NOT))
    assert not found, "transientd's master imports %s: keep what the settings check in modules that do not" % found
