"""The accountant's files from the dashboard: a form (report, range, coin, status, format)
and its download, made by the very code of the API's ``GET /reports/{kind}``
(reports.service.Reports.open, streamed by api.reports.send). Every role may download;
the dates are days in the user's time zone (theirs, else ``[dashboard] time_zone``)."""

import falcon

from ...core.errors import NotFound, ValidationError
from ...reports import columns, formats
from ...reports.service import STATES
from .. import reports as api_reports
from . import web

FIELDS = ("kind", "from", "to", "currency", "status", "format")


def _page(req, resp, dash, session, values, error=None, field=None, status=falcon.HTTP_200):
    web.render(
        req,
        resp,
        dash,
        "reports.html",
        session,
        status=status,
        current="reports",
        kinds=sorted(columns.KINDS),
        states={kind: list(states) for kind, states in STATES.items()},
        formats=sorted(formats.SUFFIXES),
        coins=sorted(dash.decimals),
        q=values,
        error=error,
        field=field,
    )


def _values(req):
    return {name: req.get_param(name) or "" for name in FIELDS}


class ReportsPage(web.Page):
    """GET {path}/reports: the form."""

    def on_get(self, req, resp):
        session = self.session(req, resp)
        if session is None:
            return
        values = _values(req)
        values["kind"] = values["kind"] or "payments"
        _page(req, resp, self.dash, session, values)


class Download(web.Page):
    """GET {path}/reports/download?kind=...: the file, or the form again naming the field
    that is wrong (422, nothing sent)."""

    def on_get(self, req, resp):
        session = self.session(req, resp)
        if session is None:
            return
        values = _values(req)
        params = {name: values[name] or None for name in FIELDS if name != "kind"}
        params["tz"] = web.zone_of(self.dash, session.user).key  # the days the page says
        try:
            report = self.dash.reports.open(values["kind"] or "payments", params)
        except (NotFound, ValidationError) as exc:
            status = falcon.HTTP_404 if isinstance(exc, NotFound) else falcon.HTTP_422
            return _page(req, resp, self.dash, session, values, exc.message, exc.field, status)
        resp.set_headers(web.HEADERS)
        api_reports.send(req, resp, report)
