"""Running the ``transient`` command line in tests: its real entry point, in a subprocess."""

import json
import os
import queue
import subprocess
import sys
import threading

from _daemon import ROOT


def run(*args, cwd=None, env=None, timeout=120):
    """Run ``transient ARGS...`` in a subprocess; return the CompletedProcess."""
    return subprocess.run(
        [sys.executable, "-m", "transient.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=clean_env(env),
        timeout=timeout,
    )


def clean_env(extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRANSIENT_")}
    env["PYTHONPATH"] = ROOT
    env.update(extra or {})
    return env


def as_json(result):
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def one_line_error(result, code):
    """Assert ``result`` failed with ``code`` and one line on stderr; return that line."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


class Lines:
    """The stdout lines of a running process, read in a thread."""

    def __init__(self, proc):
        self.queue = queue.Queue()
        threading.Thread(target=self._read, args=(proc.stdout,), daemon=True).start()

    def _read(self, stream):
        for line in stream:
            self.queue.put(line)

    def next(self, timeout=30):
        return self.queue.get(timeout=timeout)
