"""Plotly figures of a filtered set, from atw.query.series and atw.query.search. No Flask.

Classes over time, a class × month heatmap, photos per month, top classes by source and the
capture dates (the histogram whose range selection sets the date filter)."""

from __future__ import annotations

from datetime import date
from typing import Any

import plotly.graph_objects as go
from sqlalchemy.orm import Session

from atw.query import search, series
from atw.query.filters import SOURCE_NAMES, PhotoFilter

TOP = 8  # classes shown over time unless picked
PICKABLE = 30  # classes offered by the picker
SOURCE_COLOURS = {"imagenet": "#4fa3ff", "coco": "#ffb347"}
LAYOUT: dict[str, Any] = {
    "margin": {"l": 50, "r": 20, "t": 40, "b": 40},
    "height": 320,
    "paper_bgcolor": "rgba(0,0,0,0)",
    "plot_bgcolor": "rgba(0,0,0,0)",
    "font": {"size": 12},
    "legend": {"orientation": "h", "y": -0.2},
}


def chart_data(
    session: Session,
    flt: PhotoFilter,
    period: str | None = None,
    show: list[str] | None = None,
) -> dict[str, Any]:
    """Everything the charts draw, as plain data: the period (chosen from the date span unless
    given), its starts, photos per period and per day, per-class counts per period and per
    month for the shown classes (the top ones unless `show` picks), top classes by source."""
    if period is not None and period not in series.PERIODS:
        raise ValueError(f"period must be one of {', '.join(series.PERIODS)}")
    per_day = series.photos_per_day(session, flt)
    top = series.top_classes(session, flt, PICKABLE)
    pickable = [lb for lb, _ in top]
    shown = [c for c in (show or []) if c] or pickable[:TOP]
    days = series.class_days(session, flt, shown)
    first, last = (min(per_day), max(per_day)) if per_day else (date.today(), date.today())
    period = period or series.choose_period(first, last)
    starts = series.periods_between(first, last, period) if per_day else []
    months = series.periods_between(first, last, "month") if per_day else []
    by_period = series.rollup(per_day, period)
    classes = {}
    for lb in shown:
        rolled = series.rollup(days.get(lb, {}), period)
        monthly = series.rollup(days.get(lb, {}), "month")
        classes[lb] = {
            "per_period": [rolled.get(s, 0) for s in starts],
            "per_month": [monthly.get(m, 0) for m in months],
        }
    by_source: dict[str, dict[str, int]] = {}
    for row in search.class_counts(session, flt):
        by_source.setdefault(row["label"], {})[row["source"]] = row["photos"]
    top_labels = pickable[:15]
    return {
        "period": period,
        "periods": [s.isoformat() for s in starts],
        "months": [m.isoformat()[:7] for m in months],
        "photos_per_period": [by_period.get(s, 0) for s in starts],
        "photos_per_month": [series.rollup(per_day, "month").get(m, 0) for m in months],
        "days": [d.isoformat() for d in sorted(per_day)],
        "photos_per_day": [per_day[d] for d in sorted(per_day)],
        "shown": shown,
        "pickable": [{"label": lb, "photos": n} for lb, n in top],
        "classes": classes,
        "top": [
            {"label": lb, "by_source": by_source.get(lb, {}), "photos": n}
            for lb, n in top
            if lb in top_labels
        ],
    }


def _fig(data: list[Any], title: str, **layout: Any) -> dict[str, Any]:
    fig = go.Figure(
        data=data,
        layout={**LAYOUT, "template": go.layout.Template(), "title": {"text": title}, **layout},
    )
    return fig.to_plotly_json()


def figures(d: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Plotly figure dicts (data + layout) for each chart, keyed by chart name."""
    period = d["period"]
    over_time = [
        go.Bar(x=d["periods"], y=d["classes"][lb]["per_period"], name=lb, meta=lb)
        for lb in d["shown"]
    ]
    heat = go.Heatmap(
        x=d["months"],
        y=list(d["shown"]),
        z=[d["classes"][lb]["per_month"] for lb in d["shown"]],
        colorscale="Blues",
        hovertemplate="%{y}, %{x}: %{z} photos<extra></extra>",
    )
    top = list(reversed(d["top"]))
    by_source = [
        go.Bar(
            y=[t["label"] for t in top],
            x=[t["by_source"].get(src, 0) for t in top],
            name=SOURCE_NAMES[src],
            orientation="h",
            marker={"color": SOURCE_COLOURS[src]},
        )
        for src in ("imagenet", "coco")
    ]
    return {
        "classes_over_time": _fig(
            over_time, f"Classes per {period}", barmode="stack", xaxis={"type": "date"}
        ),
        "heatmap": _fig(
            [heat],
            "Classes × month",
            height=max(240, 60 + 22 * len(d["shown"])),
            xaxis={"type": "category"},
        ),
        "photos_per_month": _fig(
            [go.Bar(x=d["months"], y=d["photos_per_month"], marker={"color": "#8fd18f"})],
            "Photos per month",
            xaxis={"type": "category"},
        ),
        "top_classes": _fig(
            by_source,
            "Top classes by source",
            barmode="stack",
            height=max(240, 80 + 22 * len(top)),
            margin={"l": 140, "r": 20, "t": 40, "b": 40},
        ),
        "capture_time": _fig(
            [
                go.Bar(
                    x=d["days"],
                    y=d["photos_per_day"],
                    marker={"color": "#ffb347"},
                    hovertemplate="%{x}: %{y} photos<extra></extra>",
                )
            ],
            "Capture dates",
            dragmode="select",
            selectdirection="h",
            xaxis={"type": "date"},
            bargap=0,
        ),
    }


def charts(
    session: Session, flt: PhotoFilter, period: str | None = None, show: list[str] | None = None
) -> dict[str, Any]:
    """The JSON the page draws: the data's period and class lists, and the figures."""
    d = chart_data(session, flt, period, show)
    return {
        "period": d["period"],
        "periods": list(series.PERIODS),
        "shown": d["shown"],
        "pickable": d["pickable"],
        "photos": sum(d["photos_per_day"]),
        "figures": figures(d),
    }
