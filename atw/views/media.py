"""Serving thumbnails from the instance folder (only those of indexed photos)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, send_file

from atw import db, query
from pipelines.images import thumb_path

bp = Blueprint("media", __name__)


@bp.get("/thumbs/<int:photo_id>.jpg")
def thumbnail(photo_id: int):  # type: ignore[no-untyped-def]
    sha = query.photo_sha(db.session(), photo_id)
    if sha is None:
        abort(404, description=f"no photo with id {photo_id}")
    path = thumb_path(current_app.config["THUMBS_DIR"], sha)
    if not path.is_file():
        abort(404, description="thumbnail not generated yet; run the indexer")
    resp = send_file(path, mimetype="image/jpeg", max_age=31536000, etag=sha)
    return resp
