"""transientd as a process among others: a taken address, and (below) systemd's
notify protocol and two daemons side by side on one host."""

import os
import socket
import subprocess
import sys

from _cli import clean_env
from _daemon import ROOT


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
