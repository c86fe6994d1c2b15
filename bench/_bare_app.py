"""For bench/api_throughput.py: a bare Falcon app answering a constant, served with the
daemon's own server config (gunicorn, gthread workers and threads from the same settings).

    python bench/_bare_app.py CONFIG
"""
import sys

import falcon
from gunicorn.app.base import BaseApplication

from transient import settings


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
        self.cfg.set("worker_class", "gthread")
        self.cfg.set("loglevel", "warning")

    def load(self):
        app = falcon.App()
        app.add_route("/payments", Constant())
        app.add_route("/payments/{payment_id}", Constant())
        app.add_route("/healthz", Constant())
        return app


if __name__ == "__main__":
    Bare(settings.load(sys.argv[1], environ={})).run()
