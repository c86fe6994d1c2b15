"""For bench/api_throughput.py: a bare Falcon app answering a constant, served with the
daemon's own server config (gunicorn, gthread workers and threads from the same settings).
bench/slow_clients.py also serves it with transientd's worker (``--worker buffering``).

    python bench/_bare_app.py CONFIG [--worker gthread|buffering]
"""

import sys

import falcon
from gunicorn.app.base import BaseApplication

from transient import settings
from transient.api.worker import BufferingWorker

WORKER = "gthread"


class Constant:
    def on_get(self, req, resp, **params):
        resp.media = {"success": True, "payment": {"id": "bare", "status": "UNPAID"}}

    on_post = on_get


class Bare(BaseApplication):
    def __init__(self, config):
        self.config = config
        super().__init__()

    def load_config(self):
        # The same server settings transientd.Daemon.load_config applies.
        self.cfg.set("bind", [self.config["server.bind"]])
        self.cfg.set("workers", self.config["server.workers"])
        self.cfg.set("threads", self.config["server.threads"])
        self.cfg.set("worker_class", BufferingWorker if WORKER == "buffering" else "gthread")
        self.cfg.set("loglevel", "warning")

    def load(self):
        app = falcon.App()
        app.add_route("/payments", Constant())
        app.add_route("/payments/{payment_id}", Constant())
        app.add_route("/healthz", Constant())
        return app


if __name__ == "__main__":
    config = sys.argv[1]
    WORKER = sys.argv[3] if sys.argv[2:3] == ["--worker"] else "gthread"
    sys.argv[1:] = []  # gunicorn reads the command line too
    Bare(settings.load(config, environ={})).run()
