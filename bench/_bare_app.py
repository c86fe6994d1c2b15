"""The anchor of bench/api_throughput.py: a bare Falcon app answering the daemon's own
JSON bodies from a dict, served exactly as transientd serves its app (its Daemon class:
the same gunicorn worker, workers, threads, request timeout, body limit, loggers), with
nothing of Transient behind it. What the daemon adds on top is what its share measures.

    python bench/_bare_app.py CONFIG [--bodies FILE] [--worker daemon|gthread|buffering]

``--bodies``: a JSON file ``{"get": {payment id: body text}, "post": body}`` taken from a
running daemon (GET answers the kept text as transientd's read cache does, POST reads the
request's JSON and answers the created payment's body, 201); without it, a 50-byte
constant. ``--worker gthread|buffering``: plain gunicorn with only the server settings
(bench/slow_clients.py compares those two workers on it).
"""

import json
import os
import sys

from gunicorn.app.base import BaseApplication

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import transientd  # noqa: E402  (the daemon's own server settings)
from transient.ops.worker import BufferingWorker  # noqa: E402

CONSTANT = {"success": True, "payment": {"id": "bare", "status": "UNPAID"}}


class Answers:
    """GET: the daemon's kept body of the payment (404 for another id); POST: the JSON
    request read, the created payment's body answered."""

    def __init__(self, bodies):
        self.get = {pid: text.encode() for pid, text in bodies.get("get", {}).items()}
        self.post = bodies.get("post", CONSTANT)

    def on_get(self, req, resp, payment_id=None):
        if not self.get:
            resp.media = CONSTANT
            return
        body = self.get.get(payment_id)
        if body is None:
            import falcon

            raise falcon.HTTPNotFound()
        resp.data = body

    def on_post(self, req, resp, payment_id=None):
        json.loads(req.bounded_stream.read() or b"{}")
        resp.status = "201 Created"
        resp.media = self.post


class Health:
    def on_get(self, req, resp):
        resp.media = {"status": "ok"}


def app(bodies):
    import falcon  # in the worker: the master holds what transientd's does

    answers = Answers(bodies)
    application = falcon.App()
    application.add_route("/payments", answers)
    application.add_route("/payments/{payment_id}", answers)
    application.add_route("/healthz", Health())
    return application


class DaemonSettings(transientd.Daemon):
    """transientd's master and worker, serving the bare app instead of the runtime's."""

    bodies = {}

    def load(self):
        return app(self.bodies)


class Plain(BaseApplication):
    worker = "gthread"
    bodies = {}

    def __init__(self, config):
        self.config = config
        super().__init__()

    def load_config(self):
        self.cfg.set("bind", [self.config["server.bind"]])
        self.cfg.set("workers", self.config["server.workers"])
        self.cfg.set("threads", self.config["server.threads"])
        self.cfg.set("worker_class", BufferingWorker if self.worker == "buffering" else "gthread")
        self.cfg.set("loglevel", "warning")

    def load(self):
        return app(self.bodies)


def main(argv):
    config, args = argv[0], argv[1:]
    options = dict(zip(args[::2], args[1::2]))
    bodies = {}
    if "--bodies" in options:
        with open(options["--bodies"]) as fh:
            bodies = json.load(fh)
    worker = options.get("--worker", "daemon")
    sys.argv[1:] = []  # gunicorn reads the command line too
    if worker == "daemon":
        # As transientd's master: the config loaded in a child, nothing of the app here.
        code, loaded = transientd.load_in_child(config, None, environ={})
        if code:
            sys.exit(code)
        DaemonSettings.bodies = bodies
        DaemonSettings(loaded).run()
    else:
        from transient import settings

        loaded = settings.load(config, environ={})
        Plain.worker, Plain.bodies = worker, bodies
        Plain(loaded).run()


if __name__ == "__main__":
    main(sys.argv[1:])
