"""The dashboard's data: the request's filter and form, and the template context of the grid page
(shared by the plain dashboard and the one with charts, so neither view calls the other)."""

from __future__ import annotations

from typing import Any

from flask import current_app, request

from atw.query import filters, records, search
from atw.query.filters import FilterError, PhotoFilter
from atw.web import db
from atw.web.forms import FilterForm


def filter_from_request() -> tuple[PhotoFilter, FilterForm]:
    """The filter of the query string, and the form showing it (with any error attached)."""
    form = FilterForm(request.args)
    try:
        flt = filters.parse(request.args)
    except FilterError as exc:
        form.show_error(exc)
        flt = PhotoFilter()
    return flt, form


def page_number() -> int:
    try:
        return max(1, int(request.args.get("page", 1)))
    except ValueError:
        return 1


def context(here: str, charts: bool = False) -> dict[str, Any]:
    """What home.html draws: the filter panel, the map, one page of the grid. `here` is the
    endpoint the filter form and the page links go to; `charts` adds the charts section."""
    flt, form = filter_from_request()
    per_page = current_app.config["PER_PAGE"]
    session = db.session()
    result = search.search(session, flt, page_number(), per_page)
    photos = records.photo_records(session, result.ids, result.distances)
    return {
        "form": form,
        "flt": flt,
        "args": filters.to_args(flt),
        "description": filters.describe(flt),
        "result": result,
        "photos": photos,
        "pages": max(1, -(-result.total // per_page)),
        "indexed": result.total > 0 or search.any_photo(session),
        "cameras": search.cameras(session),
        "here": here,
        "charts": charts,
    }
