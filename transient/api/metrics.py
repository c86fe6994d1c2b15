"""``GET /metrics`` (Prometheus text format) and the HTTP metrics of every request."""

import time

from ..core.keys import METRICS_READ, KeyRing
from ..ops import metrics
from .peers import Peers


class Metrics:
    """Every worker's figures and the scrape-time gauges (ops.metrics).

    Who may scrape: a caller on loopback (a Prometheus on this host; through a proxy,
    only as ``peers`` tells: api/peers.py), or a key holding ``metrics:read`` (or
    ``admin``). With no key configured at all, everyone, like every route. (No
    ``scopes``: the API key middleware leaves this resource to its own check.)
    """

    def __init__(self, keys, collector=None, peers=None):
        self.keys = keys if isinstance(keys, KeyRing) else KeyRing(keys)
        self.collector = collector
        self.peers = peers or Peers()

    def on_get(self, req, resp):
        if not self.peers.is_local(req):
            self.keys.require(req.get_header("Authorization"), METRICS_READ)
        resp.content_type = metrics.CONTENT_TYPE
        resp.data = metrics.render(self.collector)
        resp.cache_control = ["no-store"]


class HttpMetrics:
    """Falcon middleware: each answer counted by method, route template and status, and
    timed. The route is the template (``/payments/{payment_id}``) or ``unmatched``: no
    client can add a label value."""

    def process_request(self, req, resp):
        req.context.metrics_started = time.perf_counter()

    def process_response(self, req, resp, resource, req_succeeded):
        started = getattr(req.context, "metrics_started", None)
        if started is None:
            return
        route = req.uri_template if resource is not None else None
        metrics.http_request(req.method, route, resp.status_code, time.perf_counter() - started)
