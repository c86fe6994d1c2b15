"""``GET /reports/{kind}``: a report streamed as CSV or JSON lines (reports room)."""

from ..core.errors import ValidationError
from ..core.keys import REPORTS_READ
from ..core.text import text_problem
from ..reports.period import period

PARAMS = ("from", "to", "tz", "currency", "status", "format")


class ReportFile:
    """The file of ``reports.open``; every parameter is checked before the first byte
    (a 4xx naming the field), then rows go out chunk by chunk (``resp.stream``)."""

    scopes = {"GET": REPORTS_READ}

    def __init__(self, reports):
        self.reports = reports

    def on_get(self, req, resp, kind):
        send(req, resp, self.reports.open(kind, {name: req.get_param(name) for name in PARAMS}))


def send(req, resp, report):
    """Answer with ``report`` (a reports.service.Report) as a download, streamed chunk by
    chunk: the API's ``GET /reports/{kind}`` and the dashboard's download button alike."""
    resp.content_type = report.content_type
    resp.set_header("Content-Disposition", 'attachment; filename="%s"' % report.filename)
    resp.set_header("Cache-Control", "no-store")
    if req.method == "HEAD":
        return  # no query for a HEAD: the headers say what a GET would send
    resp.stream = report.body


class Reconcile:
    """``GET /reports/reconcile?currency=LTC&from=...&to=...&tz=...``: the ledger against
    the coin node's wallet over the range (reports.reconcile); ``ok`` false when they differ."""

    scopes = {"GET": REPORTS_READ}

    def __init__(self, reconciler, decimals):
        self.reconciler = reconciler
        self.decimals = decimals

    def on_get(self, req, resp):
        values = {name: req.get_param(name) for name in ("currency", "from", "to", "tz")}
        for name, value in values.items():
            if value is not None and text_problem(value):
                raise ValidationError("must be text", name)
        currency = (values["currency"] or "").strip().upper()
        if not currency:
            raise ValidationError("is required (a coin such as LTC)", "currency")
        span = period(values["from"], values["to"], values["tz"])
        result = self.reconciler.run(currency, span)
        resp.media = {"success": True, **result.as_dict(self.decimals.get(currency, 8))}
