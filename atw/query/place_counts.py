"""Places of a filtered set with photo counts: countries, regions and populated places (GET
/api/places, the filter panel's autocomplete, the report's lists), and countries per day (the
"where was I when" chart). No Flask.

Counted from the stored place columns (ix_photo_place: country_code, region, place, listed, …),
or without a filter from place_count (atw.core.summary_counts), rolled up here into towns,
regions and countries, so the lists always add up. A place is listed as its town (Lisbon's
Intendente as Lisbon: atw.query.placenames, the rule captions and the place filter use), so
each count is what place=<name> selects. Photos
without a country (no position, at sea, or not placed yet) are counted apart, as "no_country"."""

from __future__ import annotations

import heapq
import re
from collections import defaultdict
from dataclasses import replace
from datetime import date
from operator import itemgetter
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from atw.core import dialect, gazetteer
from atw.core.schema import Photo
from atw.query import class_memory, day_counts, photo_memory, placenames
from atw.query.filters import PhotoFilter
from atw.query.plan import Query

KINDS = ("country", "region", "place")
first = itemgetter(0)
# Answers without a filter: (database, summary_counts.version, limit) -> place_counts.
_UNFILTERED: dict[tuple[Any, ...], dict[str, Any]] = {}


def _grouped(session: Session, flt: PhotoFilter) -> list[Any]:
    """(country_code, region, place, photos) of the filtered photos, one row per stored place:
    without a filter from place_count (kept by triggers); without classes one GROUP BY over
    `photo` with the filter's own conditions (its indexes: ix_photo_place for a country, the
    radius's); with classes over the ids of the filter's plan. Rows in no particular order.

    Rows read from ix_photo_place (a country, region or place) come in (country, region, place)
    order, which that GROUP BY needs; other rows (a radius, dates) are sorted for it, and
    grouped place first the sort tells most of them apart by their first key: the 85,000
    photos within 20 km of home at 1M photos, median 122 -> 84 ms on SQLite (old and new
    statements back to back on one connection). The same groups. A radius (and dates) alone:
    from the positions held with the class rows (atw.query.photo_memory), at the index's
    version."""
    if flt.is_empty():
        return day_counts.place_rows(session)
    if photo_memory.answers(replace(flt, start=None, end=None)):  # a radius (and dates)
        held = class_memory.current(session)  # the held positions' places, no SQL
        positions = held.positions if held is not None else None
        if positions is not None and positions.place is not None and positions.answers(flt):
            return positions.place_rows(flt)
    n = func.count().label("photos")
    cols = (Photo.country_code, Photo.region, Photo.place)
    query = Query(session, flt)
    if query.kind == "photo" and not query.flt.classes:
        q = query.branches[0].with_only_columns(*cols, n, maintain_column_froms=True)
    else:
        ids = query.ids().subquery()
        q = select(*cols, n).join(ids, ids.c.id == Photo.id)
    keys = cols if (flt.country or flt.region or flt.place) else cols[::-1]
    return list(session.execute(q.group_by(*keys)))


def place_counts(session: Session, flt: PhotoFilter, limit: int | None = None) -> dict[str, Any]:
    """{countries: [{code, name, photos}], regions: [{country_code, country, region, photos}],
    places: [{country_code, country, region, name, photos}], no_country: n, and the lengths of
    the lists before `limit` (countries_total, …)}; each list most photos first (then by name).
    A photo counts once in its place (its town), its region and its country. Without a filter
    the answer is kept in this process while the counts' version stays (each caller gets its
    own copy)."""
    if not flt.is_empty():
        return _counts(session, flt, limit)
    key = (str(session.get_bind().url), day_counts.version(session), limit)
    found = _UNFILTERED.get(key)
    if found is None:
        found = _counts(session, flt, limit)
        if key[1] is not None and day_counts.version(session) == key[1]:  # none wrote meanwhile
            if len(_UNFILTERED) >= 8:
                _UNFILTERED.clear()
            _UNFILTERED[key] = found
    return {k: [dict(e) for e in v] if isinstance(v, list) else v for k, v in found.items()}


def _counts(session: Session, flt: PhotoFilter, limit: int | None) -> dict[str, Any]:
    """place_counts, computed."""
    countries: dict[str, int] = defaultdict(int)
    regions: dict[tuple[str, str | None], int] = defaultdict(int)
    towns: dict[tuple[str, str | None, str], int] = defaultdict(int)
    no_country = 0
    for code, region, place, photos in _grouped(session, flt):
        if code is None:
            no_country += photos
            continue
        countries[code] += photos
        regions[(code, region)] += photos
        if place is not None:
            towns[placenames.town_of((code, region, place))] += photos
    names = {code: gazetteer.country_name(code) for code in countries}  # once per country
    # Sorted as (sort key, what the entry is made of): most photos first, then by name, region
    # and country code (a total order: the rows come in any order). Entries are made for the
    # kept rows only (a million photos have ~20,000 places).
    ranked: dict[str, list[Any]] = {
        "countries": [((-n, names[c] or c, c), c, n) for c, n in countries.items()],
        "regions": [((-n, r, c), (c, r), n) for (c, r), n in regions.items() if r is not None],
        "places": [((-n, t[2], t[1] or "", t[0]), t, n) for t, n in towns.items()],
    }
    out: dict[str, Any] = {}
    for key, rows in ranked.items():
        kept = sorted(rows, key=first) if limit is None else heapq.nsmallest(limit, rows, first)
        out[key] = [_entry(key, what, int(n), names) for _k, what, n in kept]
    out["no_country"] = int(no_country)
    for key, rows in ranked.items():
        out[f"{key}_total"] = len(rows)
    return out


def _entry(kind: str, what: Any, n: int, names: dict[str, str | None]) -> dict[str, Any]:
    """One entry of a list of place_counts: a country (its code), region ((code, region)) or
    town ((code, region, name))."""
    if kind == "countries":
        return {"code": what, "name": names[what] or what, "photos": n}
    if kind == "regions":
        return {"country_code": what[0], "country": names[what[0]], "region": what[1], "photos": n}
    code, region, name = what
    return {
        "country_code": code,
        "country": names[code],
        "region": region,
        "name": name,
        "photos": n,
    }


def complete(
    session: Session, flt: PhotoFilter, kind: str, typed: str, limit: int = 12
) -> list[dict[str, Any]]:
    """The autocomplete of the filter panel's country, region and place fields: the entries of
    that kind within the filtered photos whose name contains `typed` (any case and accents):
    names that start with it first, then those with a word that does, then the rest; most photos
    first within each. Each entry has `value`, the text that selects it in the filter."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    q = gazetteer.fold(typed)
    if not q:
        return []
    counts = place_counts(session, flt)
    rows = counts[{"country": "countries", "region": "regions", "place": "places"}[kind]]
    names = {"country": "name", "region": "region", "place": "name"}

    def rank(row: dict[str, Any]) -> int | None:
        text = gazetteer.fold(row[names[kind]] or "")
        if kind == "country" and row["code"].lower() == q:
            return 0
        if text.startswith(q):
            return 0
        if any(w.startswith(q) for w in re.split(r"\s+", text)):
            return 1
        return 2 if q in text else None

    twins: dict[str, set[tuple[str, str | None]]] = defaultdict(set)
    for row in rows if kind == "place" else ():
        twins[row["name"]].add((row["country_code"], row["region"]))
    ranked = [
        (r, {**row, "value": _value(kind, row, twins)})
        for row in rows
        if (r := rank(row)) is not None
    ]
    ranked.sort(key=lambda x: (x[0], -x[1]["photos"], x[1]["value"]))
    return [entry for _r, entry in ranked[:limit]]


def _value(kind: str, row: dict[str, Any], twins: dict[str, set[Any]]) -> str:
    """The text a picked entry puts in its field: a country's name; a region or place by its
    name, with its country (and region) when another entry of the list has the same name."""
    if kind == "country":
        return str(row["name"])
    if kind == "region":
        return str(row["region"])
    name, here = row["name"], twins[row["name"]]
    if len(here) == 1:
        return str(name)
    same_country = sum(1 for code, _r in here if code == row["country_code"]) > 1
    parts = [name, row["region"] if same_country else None, row["country"]]
    return ", ".join(p for p in parts if p)


def country_days(session: Session, flt: PhotoFilter) -> dict[str, dict[date, int]]:
    """{country code: {local day: photos}} of the filtered photos with a capture time and a
    country: where the photos were taken, when (the charts roll the days up into periods)."""
    ids = Query(session, flt).ids().subquery()
    day = dialect.day_of(Photo.taken_at, session.get_bind().dialect.name)
    rows = session.execute(
        select(Photo.country_code, day.label("day"), func.count().label("n"))
        .join(ids, ids.c.id == Photo.id)
        .where(Photo.country_code.is_not(None), Photo.taken_at.is_not(None))
        .group_by(Photo.country_code, day)
    ).all()
    out: dict[str, dict[date, int]] = defaultdict(dict)
    for code, d, n in rows:
        when = d if isinstance(d, date) else date.fromisoformat(str(d)[:10])
        out[code][when] = int(n)
    return dict(out)
