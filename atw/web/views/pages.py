"""HTML pages: the dashboard (filter panel, grid, map), the photo viewer, needs attention."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, url_for
from flask.blueprints import BlueprintSetupState

from atw.present import viewer
from atw.query import filters, placenames, records, search, trip_store
from atw.web import dashboard, db

bp = Blueprint("pages", __name__)


@bp.record_once
def _favicon(state: BlueprintSetupState) -> None:
    """/favicon.ico (browsers ask for it on every page) is a static file: the static endpoint,
    so it needs no API key, like the rest of atw/static (base.html also links favicon.svg)."""
    app = state.app
    serve = app.view_functions["static"]
    app.add_url_rule("/favicon.ico", "static", serve, defaults={"filename": "favicon.ico"})


@bp.get("/")
def home():  # type: ignore[no-untyped-def]
    return render_template("home.html", **dashboard.context("pages.home"))


@bp.get("/photos/<int:photo_id>")
def photo(photo_id: int):  # type: ignore[no-untyped-def]
    flt, _form = dashboard.filter_from_request()
    session = db.session()
    rec = records.photo_record(session, photo_id)
    if rec is None:
        abort(404, description=f"no photo with id {photo_id}")
    prev_id, next_id = search.neighbours(session, flt, photo_id)
    size, _note = dashboard.per_page()
    args = dashboard.link_args(flt, size)
    # Back to the grid page this photo is on (in the filter's order), scrolled to its tile.
    # The grid's links and previous/next carry the photo's place (?at=); without it (a link
    # from elsewhere) it is counted.
    at = dashboard.place_in_order()
    before = at if at is not None else search.position(session, flt, photo_id)
    page = 1 if before is None else before // size + 1
    back = url_for("pages.home", **args, **({"page": page} if page > 1 else {}))
    back += f"#p{photo_id}" if before is not None else ""
    step = {} if before is None else {"prev": {"at": before - 1}, "next": {"at": before + 1}}
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
        prev_args={**args, **step.get("prev", {})} if before else args,
        next_args={**args, **step.get("next", {})},
        back=back,
        taken=viewer.taken_words(rec["taken_at"], rec["utc_offset"], rec.get("time_zone")),
        place=placenames.caption(rec),
        place_detail=placenames.detail(rec),
        facts=viewer.facts(rec),
        objects=viewer.object_groups(rec["detections"]),
        prev_id=prev_id,
        next_id=next_id,
        near=near,
        description=filters.describe(flt, trip_name=trip_store.name_of(session, flt.trip)),
    )


@bp.get("/attention")
def attention():  # type: ignore[no-untyped-def]
    """Needs attention: damaged photos (with thumbnails) and quarantined files, with reasons."""
    return render_template("attention.html", found=records.attention(db.session()))
