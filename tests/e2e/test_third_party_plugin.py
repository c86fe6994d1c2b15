"""A third party's plugin, written against the public module alone, loads like ours.

The test writes a tiny distribution (an entry point in the ``transient`` group and a
package that imports only ``transient.plugin``), installs it with pip into a
throw-away target directory (no index, no build isolation: nothing is downloaded and
the project's .venv is left as it was), then runs the CLI and a Runtime in fresh
processes whose PYTHONPATH holds that directory.
"""

import ast
import json
import os
import subprocess
import sys
import textwrap

import pytest

PLUGIN_SOURCE = textwrap.dedent('''\
    """MyCoin: a third-party-style backend, written against the public module only."""
    from transient.plugin import BitcoindBackend, hookimpl


    class MyCoinBackend(BitcoindBackend):
        name = "mycoin"
        currency = "MYC"
        uri_scheme = "mycoin"
        max_money = 84_000_000 * 10**8


    @hookimpl
    def transient_register_backends():
        return [MyCoinBackend]
''')

PYPROJECT = textwrap.dedent("""\
    [build-system]
    requires = ["setuptools"]
    build-backend = "setuptools.build_meta"

    [project]
    name = "transient-mycoin"
    version = "0.3.0"
    dependencies = ["transient"]

    [project.entry-points.transient]
    mycoin = "transient_mycoin"

    [tool.setuptools]
    packages = ["transient_mycoin"]
""")

# Builds the configured runtime and says what it made of [coins.MYC].
RUNTIME_SCRIPT = textwrap.dedent("""\
    import json, sys
    from transient.runtime import Runtime
    from transient.settings import load

    runtime = Runtime(load(sys.argv[1], dotenv=False))
    try:
        backend = runtime.backends["MYC"]
        cls = type(backend)
        print(json.dumps({"class": cls.__module__ + "." + cls.__qualname__, "name": cls.name,
                          "currency": backend.currency, "uri": backend.payment_uri("addr1", 150000000),
                          "coins": sorted(runtime.backends)}))
    finally:
        runtime.close()
""")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The target directory the plugin was installed into."""
    root = tmp_path_factory.mktemp("mycoin")
    src = root / "src"
    (src / "transient_mycoin").mkdir(parents=True)
    (src / "pyproject.toml").write_text(PYPROJECT)
    (src / "transient_mycoin" / "__init__.py").write_text(PLUGIN_SOURCE)
    target = root / "site"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-index",
            "--no-deps",
            "--no-build-isolation",
            "--disable-pip-version-check",
            "--no-input",
            "-q",
            "--target",
            str(target),
            str(src),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (target / "transient_mycoin" / "__init__.py").is_file()
    return target


def run(site, args, cwd):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRANSIENT_")}
    env["PYTHONPATH"] = os.pathsep.join([str(site)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    proc = subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=str(cwd),
        env=env,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_the_plugin_imports_only_the_public_module():
    tree = ast.parse(PLUGIN_SOURCE)
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert not node.level
            imported.add(node.module)
    assert {m for m in imported if m.split(".")[0].startswith("transient")} == {"transient.plugin"}


def test_cli_lists_the_third_party_backend(site, tmp_path):
    rows = json.loads(run(site, ["-m", "transient.cli", "backends", "--json"], tmp_path))
    mine = [r for r in rows if r["backend"] == "mycoin"]
    assert mine == [{"backend": "mycoin", "currency": "MYC", "plugin": "transient-mycoin", "version": "0.3.0"}]
    # The shipped backends are still there beside it.
    assert {"dogecoin", "bitcoin", "litecoin"} <= {r["backend"] for r in rows}


def test_a_config_naming_the_backend_builds_a_runtime_with_it(site, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(
        textwrap.dedent(
            """\
        [database]
        url = "sqlite:///%s"

        [coins.MYC]
        backend = "mycoin"
        rpc_url = "http://127.0.0.1:9"
        address_pool = 0
    """
            % (tmp_path / "transient.db")
        )
    )
    made = json.loads(run(site, ["-c", RUNTIME_SCRIPT, str(config)], tmp_path))
    assert made == {
        "class": "transient_mycoin.MyCoinBackend",
        "name": "mycoin",
        "currency": "MYC",
        "uri": "mycoin:addr1?amount=1.5",
        "coins": ["MYC"],
    }
