"""The place charts of a filtered set: where was I when (countries per period) and photos per
country. Data from atw.query.place_counts; figures drawn with atw.present.charts' axes and frame
(passed in: charts.py calls this module). No Flask.

Like the other time charts, "where was I when" leaves out photos whose date is only estimated
unless asked, and spans the real dates' periods."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import plotly.graph_objects as go
from sqlalchemy.orm import Session

from atw.query import place_counts, series
from atw.query.filters import PhotoFilter

COUNTRIES = 15  # countries charted (the most photographed)
BAR_COLOUR = "#8fc1ff"
HEAT_COLOURS = [[0.0, "#3d2a5c"], [0.5, "#9a5fd6"], [1.0, "#e6cfff"]]


def data(
    session: Session,
    flt: PhotoFilter,
    timed: PhotoFilter,
    starts: list[date],
    period: str,
) -> dict[str, Any]:
    """photos_per_country: [{code, name, photos}] (most first, at most COUNTRIES) of `flt`;
    country_periods: {code: photos per period start} of `timed` (the filter the time charts
    use), for those countries, ordered by the first period each appears in (then by photos)."""
    counts = place_counts.place_counts(session, flt, limit=COUNTRIES)
    top = counts["countries"]
    days = place_counts.country_days(session, timed)
    per: dict[str, list[int]] = {}
    for c in top:
        rolled = series.rollup(days.get(c["code"], {}), period)
        per[c["code"]] = [rolled.get(s, 0) for s in starts]
    first = {code: next((i for i, n in enumerate(v) if n), len(starts)) for code, v in per.items()}
    order = sorted(per, key=lambda code: (first[code], -sum(per[code])))
    names = {c["code"]: c["name"] for c in top}
    return {
        "photos_per_country": top,
        "country_periods": [{"code": k, "name": names[k], "per_period": per[k]} for k in order],
        "countries_total": counts["countries_total"],
        "no_country": counts["no_country"],
    }


def figures(
    d: dict[str, Any],
    fig: Callable[..., dict[str, Any]],
    count_axis: Callable[..., dict[str, Any]],
    date_axis: Callable[..., dict[str, Any]],
    heatmap: Callable[..., Any],
) -> dict[str, dict[str, Any]]:
    """The two figures from chart_data's dict `d` (its periods, first/last and the place data);
    fig, count_axis, date_axis and heatmap are atw.present.charts' own frame, axes and
    heatmap."""
    period, first, last = d["period"], d["first"], d["last"]
    rows = d["country_periods"]
    starts = [date.fromisoformat(s) for s in d["periods"]]
    edges = [s.isoformat() for s in starts]
    if starts:
        edges.append(series.next_start(starts[-1], period).isoformat())
    z = [[n or None for n in r["per_period"]] for r in rows]
    heat = heatmap(
        HEAT_COLOURS,
        max((n for row in z for n in row if n), default=0),
        x=edges,
        y=[r["name"] for r in rows],
        z=z,
        customdata=[[r["code"]] * len(r["per_period"]) for r in rows],
        hovertemplate="%{y}, %{x}: %{z} photos<extra></extra>",
    )
    top = list(reversed(d["photos_per_country"]))
    bars = go.Bar(
        y=[c["name"] for c in top],
        x=[c["photos"] for c in top],
        customdata=[c["code"] for c in top],
        orientation="h",
        marker={"color": BAR_COLOUR},
        name="photos",
        hovertemplate="%{y}: %{x} photos<extra></extra>",
    )
    more = d["countries_total"] - len(top)
    return {
        "countries_over_time": fig(
            [heat],
            f"Where was I when: countries per {period}",
            height=max(220, 90 + 26 * len(rows)),
            xaxis=date_axis(first, last, period, showgrid=False),
            yaxis={"automargin": True, "showgrid": False, "autorange": "reversed"},
            margin={"l": 20, "r": 20, "t": 48, "b": 40},
        ),
        "photos_per_country": fig(
            [bars],
            "Photos per country" + (f" (top {len(top)} of {d['countries_total']})" if more else ""),
            height=max(220, 90 + 24 * len(top)),
            yaxis={"automargin": True},
            xaxis=count_axis([c["photos"] for c in top]),
            margin={"l": 20, "r": 20, "t": 48, "b": 40},
        ),
    }
