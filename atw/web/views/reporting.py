"""Views: the charts page and JSON, the HTML report, CSV/JSON exports, plotly.js.

plotly.js is served from the installed plotly package (never a CDN). Thin: parse the filter,
call atw.present (charts, reports, tables), send."""

from __future__ import annotations

import shlex

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    make_response,
    render_template,
    request,
    send_file,
    stream_with_context,
    url_for,
)

from atw.present import charts, reports, tables
from atw.query import filters, search, series
from atw.query.filters import FilterError
from atw.web import dashboard, db, errors, security
from atw.web.forms import field_label

# plotly.js adds a <style> element and style attributes: the charts page alone allows inline
# styles (scripts stay 'self' only), as atw/web/security.py prescribes.
CHARTS_CSP = security.CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")

bp = Blueprint("exports", __name__)


@bp.errorhandler(FilterError)
def _bad_filter(exc: FilterError):  # type: ignore[no-untyped-def]
    """JSON for the charts' script and for clients that ask for JSON; a browser following a
    report or export link gets a page naming the field, with a link back to the filter."""
    if request.path == "/charts.json" or errors.wants_json():
        body = {"error": "Bad Request", "parameter": exc.param, "message": exc.message}
        if exc.suggestions:  # "did you mean": as /api gives them
            body["suggestions"] = list(exc.suggestions)
        return jsonify(**body, status=400), 400
    return errors.page(
        400,
        "Bad Request",
        f"This {_what()} was not made: {field_label(exc.param)}: {exc.reason}"
        + ("" if exc.reason.endswith(("?", ".")) else "."),
        back=_back(),
    )


def _what() -> str:
    return "report" if request.path == "/report" else "export"


def _back() -> str:
    """The dashboard with this request's filter (its bad field shown beside the field)."""
    args = {k: v for k, v in request.args.items(multi=True) if k != "privacy"}
    return url_for("pages.home", **args) if args else url_for("pages.home")


def _private() -> bool:
    return request.args.get("privacy", "") in {"1", "true", "yes", "on"}


@bp.get("/charts")
def charts_page():  # type: ignore[no-untyped-def]
    """The dashboard (filter panel, map, grid) with the charts of the filter above the grid."""
    page = render_template("home.html", **dashboard.context("exports.charts_page", charts=True))
    resp = make_response(page)
    resp.headers["Content-Security-Policy"] = CHARTS_CSP
    return resp


@bp.get("/charts.json")
def charts_json():  # type: ignore[no-untyped-def]
    """The charts of the filter: ?period=day|week|month|year, ?show=class,class (the picker),
    ?with_estimated=1 (also chart the photos whose date is only estimated from the file),
    ?by=categories|classes (what classes over time stacks when nothing is picked)."""
    flt = filters.parse(request.args)
    period = request.args.get("period") or None
    if period is not None and period not in series.PERIODS:
        raise FilterError("period", f"period must be one of {', '.join(series.PERIODS)}")
    by = request.args.get("by") or "categories"
    if by not in charts.BREAKDOWNS:
        raise FilterError("by", f"by must be one of {', '.join(charts.BREAKDOWNS)}, got {by!r}")
    show = [c.strip() for c in request.args.get("show", "").split(",") if c.strip()]
    with_estimated = request.args.get("with_estimated", "") in {"1", "true", "yes", "on"}
    got = charts.charts(db.session(), flt, period, show or None, with_estimated, by)
    return jsonify(got)


@bp.get("/report")
def report():  # type: ignore[no-untyped-def]
    """The self-contained HTML report of the filter, as a download (?privacy=1 for private).
    At most REPORT_MAX_PHOTOS photos: the count is taken first, a larger set is refused before
    anything is built (the CLI, which writes to a file, has no cap)."""
    flt = filters.parse(request.args)
    cap = int(current_app.config["REPORT_MAX_PHOTOS"])
    total = search.search(db.session(), flt, 1, 1).total
    if cap > 0 and total > cap:
        message = (
            f"this filter matches {total:,} photos; a report from the web holds at "
            f"most {cap:,} (REPORT_MAX_PHOTOS). Narrow the filter, or write this report with "
            f"the command line: {report_command_line(flt, _private())}"
        )
        if errors.wants_json():
            abort(400, description=message)
        return errors.page(400, "Bad Request", message[0].upper() + message[1:], back=_back())
    body = reports.build_report(
        db.session(),
        flt,
        current_app.config["THUMBS_DIR"],
        base_url=request.host_url,
        private=_private(),
    )
    return Response(
        body,
        mimetype="text/html",
        headers={"Content-Disposition": 'attachment; filename="atw-report.html"'},
    )


def report_command_line(flt: filters.PhotoFilter, private: bool) -> str:
    """The `flask --app atw report` command that writes the report of this filter."""
    words = ["flask", "--app", "atw", "report", "--out", "report.html"]
    for name, value in filters.to_args(flt).items():
        words += [f"--{name.replace('_', '-')}", value]
    if private:
        words.append("--private")
    return shlex.join(words)


@bp.get("/export.csv")
def export_csv():  # type: ignore[no-untyped-def]
    flt = filters.parse(request.args)
    body = stream_with_context(tables.iter_csv(db.session(), flt, _private()))
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="atw-photos.csv"'},
    )


@bp.get("/export.json")
def export_json():  # type: ignore[no-untyped-def]
    flt = filters.parse(request.args)
    body = stream_with_context(tables.iter_json(db.session(), flt, _private()))
    return Response(
        body,
        mimetype="application/json",
        headers={"Content-Disposition": 'attachment; filename="atw-photos.json"'},
    )


@bp.get("/vendor/plotly.min.js")
def plotly_js():  # type: ignore[no-untyped-def]
    """plotly.js from the installed plotly package, cached for a year (the version is pinned)."""
    return send_file(reports.plotly_js(), mimetype="text/javascript", max_age=31536000)
