"""HTML pages: the home page (a thumbnail grid of the index)."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request

from atw import db, query

bp = Blueprint("pages", __name__)


@bp.get("/")
def home():  # type: ignore[no-untyped-def]
    try:
        page = max(1, int(request.args.get("page", 1)))
    except ValueError:
        page = 1
    per_page = current_app.config["PER_PAGE"]
    session = db.session()
    result = query.search(session, query.PhotoFilter(), page, per_page)
    photos = query.photo_records(session, result.ids)
    return render_template(
        "home.html", result=result, photos=photos, pages=max(1, -(-result.total // per_page))
    )
