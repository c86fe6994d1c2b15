"""What runs as processes outside the daemon: transientd refusing a bad config or an
unmigrated database, the CLI listing the plugins' backends, and what a fresh interpreter
loads with the app. The wheels (their files against the tree's, installed into a fresh
virtualenv and run there) are checked by scripts/check-install, which .ci/run runs."""

import os
import subprocess
import sys

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
