"""For bench/api_throughput.py: transientd exactly, served by gunicorn's plain gthread
worker instead of transientd's own (transient/ops/worker.py, which reads each request on
the worker's event loop before a thread serves it). gthread is what transientd ran
before: the baseline the daemon's throughput is held to, measured in the same run.

    python bench/_gthread_daemon.py --config CONFIG
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import transientd  # noqa: E402


class GthreadDaemon(transientd.Daemon):
    def load_config(self):
        super().load_config()
        self.cfg.set("worker_class", "gthread")


if __name__ == "__main__":
    transientd.Daemon = GthreadDaemon  # main() builds the daemon by this name
    sys.exit(transientd.main())
