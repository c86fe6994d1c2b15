"""transientd as a process among others: a taken address, and (below) systemd's
notify protocol and two daemons side by side on one host."""

import os
import socket
import subprocess
import sys

from _cli import clean_env
from _daemon import ROOT

from transient.devnet.node import find_free_port


def test_a_taken_address_is_named_with_its_setting(tmp_path):
    """In the background (no terminal, output to a file) as in the foreground: one
    line naming the address and the setting that changes it, exit 2, at once."""
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    held.listen()
    port = held.getsockname()[1]
    config = tmp_path / "config.toml"
    config.write_text('[server]\nbind = "127.0.0.1:%d"\n[database]\nurl = "sqlite:///%s"\n' % (port, tmp_path / "t.db"))
    out = tmp_path / "out.log"
    try:
        with open(out, "wb") as fh:
            proc = subprocess.run(
                [sys.executable, os.path.join(ROOT, "transientd.py"), "--config", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=fh,
                stderr=subprocess.STDOUT,
                env=clean_env(),
                cwd=tmp_path,
                start_new_session=True,
                timeout=60,
            )
    finally:
        held.close()
    lines = out.read_text().strip().splitlines()
    assert proc.returncode == 2, lines
    assert lines == [
        "transientd: cannot listen on 127.0.0.1:%d: the address is in use (another transientd or program"
        " listens there); set [server] bind or TRANSIENT_SERVER_BIND to a free address" % port
    ]


# -- PostgreSQL without its driver --------------------------------------------------

# Installed without the postgres extra: the driver's import fails, as peewee sees it.
_NO_DRIVER = 'import sys\nsys.modules["psycopg2"] = None\nsys.modules["psycopg"] = None\n'


def test_a_postgresql_url_without_the_driver_is_one_line_exit_2(tmp_path):
    blocker = tmp_path / "site"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(_NO_DRIVER)
    config = tmp_path / "config.toml"
    config.write_text(
        '[server]\nbind = "127.0.0.1:%d"\n[database]\nurl = "postgresql://u:hunter2@127.0.0.1:5432/test"\n'
        % find_free_port()
    )
    env = clean_env({"PYTHONPATH": "%s:%s" % (blocker, ROOT)})
    wanted = (
        "database.url is a PostgreSQL URL, but its driver (psycopg2) is not installed:"
        " pip install 'transient[postgres]'"
    )
    for argv in (["-m", "transient.cli", "migrate"], [os.path.join(ROOT, "transientd.py")]):
        proc = subprocess.run(
            [sys.executable, *argv, "--config", str(config)], capture_output=True, text=True, env=env, timeout=60
        )
        assert proc.returncode == 2, (argv, proc.stdout, proc.stderr)
        assert proc.stderr.strip().splitlines() == ["%s: %s" % ("transient" if "-m" in argv else "transientd", wanted)]
        assert "hunter2" not in proc.stderr + proc.stdout
