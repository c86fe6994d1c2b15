"""What runs as processes outside the daemon: transientd refusing a bad config or an
unmigrated database, the CLI listing the plugins' backends, the wheels pip builds, and
what a fresh interpreter loads with the app."""

import os
import subprocess
import sys
import zipfile

import pytest
from _daemon import ROOT

from transient.api.checkout import qr


def _daemon(args, cwd, env_extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRANSIENT_")}
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, os.path.join(ROOT, "transientd.py"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "text, words",
    [
        ("[server]\nworkers = 'x'\n", "server.workers must be an integer"),
        ("[coins.DOGE]\nbackend = 'dogecion'\nrpc_url = 'http://127.0.0.1:1'\n", "coins.DOGE.backend: unknown backend"),
        ("[log]\nlevel = 'LOUD'\n", "log.level must be one of"),
    ],
)
def test_daemon_refuses_bad_config(tmp_path, text, words):
    (tmp_path / "config.toml").write_text(text)
    proc = _daemon([], tmp_path)
    assert proc.returncode == 2
    assert words in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "Traceback" not in proc.stderr


def test_daemon_refuses_unmigrated_database(tmp_path):
    proc = _daemon(["--check"], tmp_path)
    assert proc.returncode == 2
    assert "transient migrate" in proc.stderr
    proc = _daemon(["--check"], tmp_path, {"TRANSIENT_DATABASE_AUTO_MIGRATE": "1"})
    assert proc.returncode == 0, proc.stderr


def test_cli_lists_backends_with_versions():
    proc = subprocess.run(
        [sys.executable, "-m", "transient.cli", "backends"], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert "litecoin" in proc.stdout and "transient-litecoin" in proc.stdout and "0.1.0" in proc.stdout
    assert "dogecoin" in proc.stdout and "built-in" in proc.stdout


@pytest.mark.parametrize(
    "source, tops",
    [
        (".", {"transient", "transient_backends", "transientd.py"}),
        ("plugins/litecoin", {"transient_litecoin"}),
        ("plugins/bitcoin", {"transient_bitcoin"}),
    ],
)
def test_wheels_install_no_generic_top_level_names(tmp_path, source, tops):
    """`pip install .` builds these wheels: nothing called backends/ or plugins/ lands in site-packages."""
    import zipfile

    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), os.path.join(ROOT, source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    (wheel,) = tmp_path.glob("*.whl")
    names = {n.split("/")[0] for n in zipfile.ZipFile(wheel).namelist()}
    assert {n for n in names if not n.endswith(".dist-info")} == tops


def test_the_wheel_ships_the_template_and_static_files(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), ROOT],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    (wheel,) = tmp_path.glob("transient-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    room = "transient/api/checkout/"
    assert {
        room + "templates/checkout.html",
        room + "static/checkout.js",
        room + "static/checkout.css",
        room + "static/favicon.svg",
        room + "locale/checkout.pot",
        room + "locale/de/LC_MESSAGES/checkout.po",
        room + "locale/pt/LC_MESSAGES/checkout.po",
    } <= names


def test_levels_are_qrcodes_own_constants_and_the_app_loads_them_only_to_render():
    import subprocess
    import sys

    from qrcode import constants

    assert qr.LEVELS == {level: getattr(constants, "ERROR_CORRECT_" + level) for level in "LMQH"}
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, transient.api.app, transient.runtime; print(sorted({'qrcode', 'PIL'} & set(sys.modules)))",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert loaded.stdout.strip() == "[]", loaded.stderr
