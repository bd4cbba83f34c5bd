"""HTML pages: the dashboard (filter panel, grid, map), the photo viewer, needs attention."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request, url_for

from atw import db, filters, query
from atw.filters import FilterError, PhotoFilter
from atw.forms import FilterForm

bp = Blueprint("pages", __name__)


def _filter_from_request() -> tuple[PhotoFilter, FilterForm]:
    """The filter of the query string, and the form showing it (with any error attached)."""
    form = FilterForm(request.args)
    try:
        flt = filters.parse(request.args)
    except FilterError as exc:
        form.show_error(exc)
        flt = PhotoFilter()
    return flt, form


def _page() -> int:
    try:
        return max(1, int(request.args.get("page", 1)))
    except ValueError:
        return 1


@bp.get("/")
def home():  # type: ignore[no-untyped-def]
    flt, form = _filter_from_request()
    per_page = current_app.config["PER_PAGE"]
    session = db.session()
    result = query.search(session, flt, _page(), per_page)
    photos = query.photo_records(session, result.ids, result.distances)
    args = filters.to_args(flt)
    return render_template(
        "home.html",
        form=form,
        flt=flt,
        args=args,
        description=filters.describe(flt),
        result=result,
        photos=photos,
        pages=max(1, -(-result.total // per_page)),
        indexed=result.total > 0 or query.any_photo(session),
        cameras=query.cameras(session),
    )


@bp.get("/photos/<int:photo_id>")
def photo(photo_id: int):  # type: ignore[no-untyped-def]
    flt, _form = _filter_from_request()
    session = db.session()
    rec = query.photo_record(session, photo_id)
    if rec is None:
        abort(404, description=f"no photo with id {photo_id}")
    prev_id, next_id = query.neighbours(session, flt, photo_id)
    args = filters.to_args(flt)
    near = None
    if rec["lat"] is not None:
        near = url_for(
            "pages.home",
            lat=f"{rec['lat']:.5f}",
            lon=f"{rec['lon']:.5f}",
            radius_km="5",
            sort="nearest",
        )
    return render_template(
        "photo.html",
        p=rec,
        args=args,
        prev_id=prev_id,
        next_id=next_id,
        near=near,
        description=filters.describe(flt),
    )


@bp.get("/attention")
def attention():  # type: ignore[no-untyped-def]
    """Needs attention: damaged photos (with thumbnails) and quarantined files, with reasons."""
    return render_template("attention.html", found=query.attention(db.session()))
