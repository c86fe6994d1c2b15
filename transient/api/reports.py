"""``GET /reports/{kind}``: a report streamed as CSV or JSON lines (reports room)."""

from ..core.keys import REPORTS_READ

PARAMS = ("from", "to", "tz", "currency", "status", "format")


class ReportFile:
    """The file of ``reports.open``; every parameter is checked before the first byte
    (a 4xx naming the field), then rows go out chunk by chunk (``resp.stream``)."""

    scopes = {"GET": REPORTS_READ}

    def __init__(self, reports):
        self.reports = reports

    def on_get(self, req, resp, kind):
        report = self.reports.open(kind, {name: req.get_param(name) for name in PARAMS})
        resp.content_type = report.content_type
        resp.set_header("Content-Disposition", 'attachment; filename="%s"' % report.filename)
        resp.set_header("Cache-Control", "no-store")
        if req.method == "HEAD":
            return  # no query for a HEAD: the headers say what a GET would send
        resp.stream = report.body
