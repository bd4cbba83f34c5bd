"""The dashboard's data: the request's filter and form, and the template context of the grid page
(shared by the plain dashboard and the one with charts, so neither view calls the other)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flask import current_app, request

from atw.query import filters, placenames, records, search, trip_store, unlabelled
from atw.query.filters import PhotoFilter
from atw.web import db
from atw.web.forms import FilterForm


def filter_from_request() -> tuple[PhotoFilter, FilterForm]:
    """The filter of the query string without its bad fields, and the form showing it: each bad
    field keeps its text and gets its message beside it; the rest of the filter applies."""
    form = FilterForm(request.args)
    flt, errors = filters.parse_lenient(request.args)
    if flt.trip is not None:  # is it a trip of this index? (the index decides, not the words)
        try:
            trip_store.find(db.session(), flt.trip)
        except filters.FilterError as exc:
            errors.append(exc)
            flt = replace(flt, trip=None)
    for exc in errors:
        form.show_error(exc)
    if all(e.param != "classes" for e in errors):
        form.classes.data = ", ".join(flt.classes)  # "dog, , cat," is shown as "dog, cat"
    return flt, form


def per_page() -> tuple[int, str | None]:
    """The grid's page size (?per_page, default PER_PAGE, at most MAX_PER_PAGE) and a note when
    the asked size was not used."""
    default, cap = int(current_app.config["PER_PAGE"]), int(current_app.config["MAX_PER_PAGE"])
    raw = (request.args.get("per_page") or "").strip()
    if not raw:
        return default, None
    try:
        asked = int(raw)
    except ValueError:
        return default, f"per_page {raw!r} is not a whole number: showing {default} per page"
    if asked < 1:
        return default, f"per_page must be at least 1: showing {default} per page"
    if asked > cap:
        over = f"per_page {asked:,} is over the cap of {cap:,} (MAX_PER_PAGE)"
        return cap, f"{over}: showing {cap:,} per page"
    return asked, None


def page_number() -> int:
    try:
        return max(1, int(request.args.get("page", 1)))
    except ValueError:
        return 1


def place_in_order() -> int | None:
    """?at=: how many photos of the filter come before the one viewed (set by the grid's links
    and the viewer's previous/next), or None."""
    try:
        at = int(request.args.get("at", ""))
    except ValueError:
        return None
    return at if at >= 0 else None


def link_args(flt: PhotoFilter, size: int) -> dict[str, str]:
    """The query-string args that reopen this filter at this page size (pages, exports)."""
    args = filters.to_args(flt)
    if size != int(current_app.config["PER_PAGE"]):
        args["per_page"] = str(size)
    return args


def context(here: str, charts: bool = False) -> dict[str, Any]:
    """What home.html draws: the filter panel, the map, one page of the grid. `here` is the
    endpoint the filter form and the page links go to; `charts` adds the charts section.
    A page past the last one shows the last page (with a note)."""
    flt, form = filter_from_request()
    size, size_note = per_page()
    session = db.session()
    asked = page_number()
    result = search.search(session, flt, asked, size)
    page_note = None
    if asked > result.pages:
        page_note = f"There is no page {asked:,}: showing the last page, {result.pages:,}."
        result = search.search(session, flt, result.pages, size)
    photos = records.photo_records(session, result.ids, result.distances)
    for p in photos:  # "Sintra, Portugal": the town, not the neighbourhood (placenames)
        p["place_caption"] = placenames.caption(p)
    trip = trip_store.find(session, flt.trip) if flt.trip else None
    # Photos listed but not labelled yet (a two-phase index run, --no-labels): class filters
    # cannot see them, and the page says so.
    waiting = unlabelled.count(session, unlabelled.stages_of(current_app.config["LABELERS"]))
    return {
        "unlabelled": waiting,
        "unlabelled_words": unlabelled.words(waiting, classes=bool(flt.classes)),
        "unlabelled_classes": unlabelled.words(waiting, classes=True),
        "form": form,
        "flt": flt,
        "args": filters.to_args(flt),  # exports, map, charts
        "page_args": link_args(flt, size),  # pager, viewer: the page size too
        "description": filters.describe(flt, trip_name=trip and trip.name),
        "trip": trip,
        "untrip": {k: v for k, v in filters.to_args(flt).items() if k != "trip"},
        "result": result,
        "photos": photos,
        "pages": result.pages,
        "notes": [n for n in (page_note, size_note) if n],
        "indexed": result.total > 0 or search.any_photo(session),
        "cameras": search.cameras(session),
        "here": here,
        "charts": charts,
    }
