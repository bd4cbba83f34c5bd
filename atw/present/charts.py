"""Plotly figures of a filtered set, from atw.query.series and atw.query.search. No Flask.

Classes over time (by default one stack per top-level category: "what I photographed"; or the
top classes), a class × month heatmap, photos per month, top classes by source and the
capture dates (the histogram whose range selection sets the date filter). Photos whose time is
only estimated (from the file date) are left out of the time charts unless asked for, and never
set their range; the classes charted are the filter's own when it names any."""

from __future__ import annotations

from datetime import date
from typing import Any

import plotly.graph_objects as go
from sqlalchemy.orm import Session

from atw.core import vocabulary
from atw.present import place_charts
from atw.query import catalog, search, series
from atw.query.filters import SOURCE_NAMES, PhotoFilter

TOP = 8  # classes shown over time unless picked (or named by the filter)
PICKABLE = 30  # classes offered by the picker
SOURCE_COLOURS = {"imagenet": "#4fa3ff", "coco": "#ffb347"}
DATED_COLOUR, ESTIMATED_COLOUR = "#ffb347", "#8a8f98"
# Zero cells are left out (transparent); the rest go from a dark blue to a light one, so the
# heatmap reads on the dark page and in the light report alike.
HEAT_COLOURS = [[0.0, "#1f4e79"], [0.5, "#3d8fd6"], [1.0, "#bfe0ff"]]
DAY_MS = 86_400_000
LAYOUT: dict[str, Any] = {
    "margin": {"l": 50, "r": 20, "t": 48, "b": 40},
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
    with_estimated: bool = False,
    by: str = "categories",
) -> dict[str, Any]:
    """Everything the charts draw, as plain data: the period (chosen from the span of the real
    capture dates unless given), its starts, photos per period and per day, per-class counts per
    period and per month for the shown classes (`show`, else the filter's classes, else by
    `by`: the top-level categories present, or the top classes), top classes by source. Photos
    with an estimated time are counted ("estimated") and charted only with_estimated, in a
    trace of their own where the chart allows, and only within the real dates' span (those
    outside it are counted in "estimated_outside")."""
    if period is not None and period not in series.PERIODS:
        raise ValueError(f"period must be one of {', '.join(series.PERIODS)}")
    dated = series.dated_only(flt)
    real_days = series.photos_per_day(session, dated)
    all_days = series.photos_per_day(session, flt) if dated is not flt else real_days
    est_days = {d: n - real_days.get(d, 0) for d, n in all_days.items() if n > real_days.get(d, 0)}
    # The span comes from the real dates; estimated ones set it only when there are no others.
    spanning = real_days or (est_days if with_estimated else {})
    first, last = (min(spanning), max(spanning)) if spanning else (date.today(), date.today())
    inside = {d: n for d, n in est_days.items() if first <= d <= last} if spanning else {}
    est_shown = inside if with_estimated else {}
    period = period or series.choose_period(first, last)
    starts = series.periods_between(first, last, period) if spanning else []
    months = series.periods_between(first, last, "month") if spanning else []

    ranked = series.top_classes(session, flt, None)
    counts = dict(ranked)
    focus = [c for c in flt.classes if c in counts]  # the filter's classes found in the result
    rest = [lb for lb, _ in ranked if lb not in focus]
    pickable = focus + rest[: max(0, PICKABLE - len(focus))]
    if by not in BREAKDOWNS:
        raise ValueError(f"by must be one of {', '.join(BREAKDOWNS)}")
    shown = [c for c in (show or []) if c] or focus
    charted = flt if with_estimated else dated
    if shown or by == "classes":
        by = "classes"
        shown = shown or [lb for lb, _ in ranked[:TOP]]
        days = series.class_days(session, charted, shown)
    else:  # one stack per top-level category (a photo in two counts in both), largest first
        shown, days = _categories(session, charted)
    classes = {}
    for lb in shown:
        in_span = {d: n for d, n in days.get(lb, {}).items() if first <= d <= last}
        rolled = series.rollup(in_span, period)
        monthly = series.rollup(in_span, "month")
        classes[lb] = {
            "per_period": [rolled.get(s, 0) for s in starts],
            "per_month": [monthly.get(m, 0) for m in months],
        }
    by_source: dict[str, dict[str, int]] = {}
    for row in search.class_counts(session, flt):
        by_source.setdefault(row["label"], {})[row["source"]] = row["photos"]
    top_labels = focus or [lb for lb, _ in ranked[:15]]
    real_months = series.rollup(real_days, "month")
    est_months = series.rollup(est_shown, "month")
    return {
        "period": period,
        "first": first.isoformat(),
        "last": last.isoformat(),
        "periods": [s.isoformat() for s in starts],
        "months": [m.isoformat()[:7] for m in months],
        "photos_per_period": [series.rollup(real_days, period).get(s, 0) for s in starts],
        "photos_per_month": [real_months.get(m, 0) for m in months],
        "estimated_per_month": [est_months.get(m, 0) for m in months],
        "days": [d.isoformat() for d in sorted(real_days)],
        "photos_per_day": [real_days[d] for d in sorted(real_days)],
        "estimated_days": [d.isoformat() for d in sorted(est_shown)],
        "estimated_per_day": [est_shown[d] for d in sorted(est_shown)],
        "estimated": sum(est_days.values()),
        "estimated_outside": sum(est_days.values()) - sum(inside.values()) if spanning else 0,
        "with_estimated": with_estimated,
        "by": by,
        "shown": shown,
        "focus": focus,
        "pickable": [{"label": lb, "photos": counts[lb]} for lb in pickable],
        "classes": classes,
        "top": [
            {"label": lb, "by_source": by_source.get(lb, {}), "photos": counts[lb]}
            for lb in top_labels
        ],
        # where was I when, photos per country (atw.present.place_charts)
        **place_charts.data(session, flt, flt if with_estimated else dated, starts, period),
    }


BREAKDOWNS = ("categories", "classes")  # what "classes over time" stacks by default


def _categories(session: Session, flt: PhotoFilter) -> tuple[list[str], dict[str, Any]]:
    """The top-level categories of the filtered photos, most photos first, by the name a
    filter takes (atw.query.catalog.word_for), and their photos per day."""
    vocab = vocabulary.load()
    tops = [vocab.entries[k] for k in vocab.top_categories]
    n = catalog.counts(session, flt, tops)
    present = sorted((e for e in tops if n[e.key]), key=lambda e: (-n[e.key], e.name))
    days = series.group_days(session, flt, [e.key for e in present])
    names = {e.key: catalog.word_for(e) for e in present}
    return list(names.values()), {names[k]: v for k, v in days.items()}


def heatmap(colours: list[Any], largest: int, **kw: Any) -> go.Heatmap:
    """A counts heatmap in these colours: empty cells left blank, thin gaps, whole-number
    ticks on its colour bar (one per photo up to 6)."""
    return go.Heatmap(
        colorscale=colours,
        zmin=1,
        hoverongaps=False,
        xgap=1,
        ygap=1,
        colorbar={
            "thickness": 12,
            "outlinewidth": 0,
            "tickformat": ",d",
            **({"dtick": 1} if largest <= 6 else {}),
        },
        **kw,
    )


def _fig(data: list[Any], title: str, **layout: Any) -> dict[str, Any]:
    # The title sits on the left, clear of the mode bar (top right, shown on hover).
    heading = {"text": title, "x": 0, "xref": "paper", "xanchor": "left", "y": 0.98}
    fig = go.Figure(
        data=data,
        layout={**LAYOUT, "template": go.layout.Template(), "title": heading, **layout},
    )
    return fig.to_plotly_json()


def count_axis(values: list[int], **more: Any) -> dict[str, Any]:
    """An axis of photo counts: from zero, whole numbers only (one tick per photo when few)."""
    axis: dict[str, Any] = {"rangemode": "tozero", "tickformat": ",d", **more}
    if max(values, default=0) <= 6:
        axis["dtick"] = 1
    return axis


PERIOD_LENGTH: dict[str, int | str] = {
    "day": DAY_MS,
    "week": 7 * DAY_MS,
    "month": "M1",
    "year": "M12",
}
TICK_FORMAT = {"day": "%-d %b %Y", "week": "%-d %b %Y", "month": "%b %Y", "year": "%Y"}


def date_axis(first: str, last: str, period: str, **more: Any) -> dict[str, Any]:
    """A date axis from the start of first's period to the end of last's, labels centred on
    their periods; a short span (up to 6 periods) gets one tick per period, labelled as a date (a
    single day is "30 Nov 2014", not "23:59:59.9996 Nov 30"); longer ones are ticked by Plotly."""
    lo = series.period_start(date.fromisoformat(first), period)
    hi = series.next_start(series.period_start(date.fromisoformat(last), period), period)
    axis: dict[str, Any] = {
        "type": "date",
        "range": [lo.isoformat(), hi.isoformat()],
        "ticklabelmode": "period",
        **more,
    }
    if len(series.periods_between(lo, hi, period)) <= 7:  # 6 periods and the end
        axis.update(
            dtick=PERIOD_LENGTH[period], tick0=lo.isoformat(), tickformat=TICK_FORMAT[period]
        )
    return axis


PERIOD_DAYS = {"day": 1, "week": 7, "month": 30.44, "year": 365.25}


def periodic(period: str, first: str, fill: float = 0.8) -> dict[str, Any]:
    """Bar options that put each x value in the middle of its period (weeks from Monday) and
    make the bar `fill` of the period wide (Plotly alone would make a lone bar a hairline)."""
    start = series.period_start(date.fromisoformat(first), period).isoformat()
    return {
        "xperiod": PERIOD_LENGTH[period],
        "xperiod0": start,
        "xperiodalignment": "middle",
        "width": PERIOD_DAYS[period] * DAY_MS * fill,
    }


def figures(d: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Plotly figure dicts (data + layout) for each chart, keyed by chart name."""
    period, first, last = d["period"], d["first"], d["last"]
    by_period, by_month, by_day = (
        periodic(period, first),
        periodic("month", first),
        periodic("day", first, fill=1.0),
    )
    month_x = [m + "-01" for m in d["months"]]
    over_time = [
        go.Bar(x=d["periods"], y=d["classes"][lb]["per_period"], name=lb, meta=lb, **by_period)
        for lb in d["shown"]
    ]
    stacked = [
        sum(col) for col in zip(*(d["classes"][lb]["per_period"] for lb in d["shown"]), strict=True)
    ]
    heat_z = [[n or None for n in d["classes"][lb]["per_month"]] for lb in d["shown"]]
    cells = [n for row in heat_z for n in row if n]
    # Month edges (one more than the columns): each cell spans its month, a lone one too.
    edges = (
        [*month_x, series.next_start(date.fromisoformat(month_x[-1]), "month").isoformat()]
        if month_x
        else []
    )
    heat = heatmap(
        HEAT_COLOURS,
        max(cells, default=0),
        x=edges,
        y=list(d["shown"]),
        z=heat_z,
        hovertemplate="%{y}, %{x|%b %Y}: %{z} photos<extra></extra>",
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
    month_bars = [
        go.Bar(
            x=month_x,
            y=d["photos_per_month"],
            name="capture date",
            marker={"color": "#8fd18f"},
            hovertemplate="%{x|%b %Y}: %{y} photos<extra></extra>",
            **by_month,
        )
    ]
    day_bars = [
        go.Bar(
            x=d["days"],
            y=d["photos_per_day"],
            name="capture date",
            marker={"color": DATED_COLOUR},
            hovertemplate="%{x|%-d %b %Y}: %{y} photos<extra></extra>",
            **by_day,
        )
    ]
    if d["with_estimated"] and d["estimated_days"]:
        month_bars.append(
            go.Bar(
                x=month_x,
                y=d["estimated_per_month"],
                name="estimated date (file date)",
                marker={"color": ESTIMATED_COLOUR},
                hovertemplate="%{x|%b %Y}: %{y} photos, estimated date<extra></extra>",
                **by_month,
            )
        )
        day_bars.append(
            go.Bar(
                x=d["estimated_days"],
                y=d["estimated_per_day"],
                name="estimated date (file date)",
                marker={"color": ESTIMATED_COLOUR},
                hovertemplate="%{x|%-d %b %Y}: %{y} photos, estimated date<extra></extra>",
                **by_day,
            )
        )
    per_month = [
        a + b for a, b in zip(d["photos_per_month"], d["estimated_per_month"], strict=True)
    ]
    per_day = dict(zip(d["days"], d["photos_per_day"], strict=True))
    for day, n in zip(d["estimated_days"], d["estimated_per_day"], strict=True):
        per_day[day] = per_day.get(day, 0) + n
    return {
        "classes_over_time": _fig(
            over_time,
            f"Classes per {period}",
            barmode="stack",
            xaxis=date_axis(first, last, period),
            yaxis=count_axis(stacked),
        ),
        "heatmap": _fig(
            [heat],
            "Classes × month",
            height=max(240, 90 + 24 * len(d["shown"])),
            xaxis=date_axis(first, last, "month", showgrid=False),
            yaxis={"automargin": True, "showgrid": False, "autorange": "reversed"},
            margin={"l": 20, "r": 20, "t": 48, "b": 40},
        ),
        "photos_per_month": _fig(
            month_bars,
            "Photos per month",
            barmode="stack",
            showlegend=len(month_bars) > 1,
            xaxis=date_axis(first, last, "month"),
            yaxis=count_axis(per_month),
        ),
        "top_classes": _fig(
            by_source,
            "Classes of the filter by source" if d["focus"] else "Top classes by source",
            barmode="stack",
            height=max(240, 90 + 24 * len(top)),
            yaxis={"automargin": True},
            xaxis=count_axis([sum(t["by_source"].values()) for t in top]),
            margin={"l": 20, "r": 20, "t": 48, "b": 40},
        ),
        **place_charts.figures(d, _fig, count_axis, date_axis, heatmap),
        "capture_time": _fig(
            day_bars,
            "Capture dates",
            barmode="stack",
            showlegend=len(day_bars) > 1,
            dragmode="select",
            selectdirection="h",
            xaxis=date_axis(first, last, "day"),
            yaxis=count_axis(list(per_day.values())),
            bargap=0,
        ),
    }


def charts(
    session: Session,
    flt: PhotoFilter,
    period: str | None = None,
    show: list[str] | None = None,
    with_estimated: bool = False,
    by: str = "categories",
) -> dict[str, Any]:
    """The JSON the page draws: the data's period and class lists, the estimated dates' count
    (charted or not), what the classes chart stacks by, and the figures."""
    d = chart_data(session, flt, period, show, with_estimated, by)
    return {
        "period": d["period"],
        "periods": list(series.PERIODS),
        "shown": d["shown"],
        "by": d["by"],
        "breakdowns": list(BREAKDOWNS),
        "focus": d["focus"],
        "pickable": d["pickable"],
        "photos": sum(d["photos_per_day"]) + sum(d["estimated_per_day"]),
        "estimated": d["estimated"],
        "estimated_outside": d["estimated_outside"],
        "with_estimated": d["with_estimated"],
        "figures": figures(d),
    }
