"""Serving images: thumbnails from the instance folder, and screen-sized copies of originals
(only of indexed photos, read from their recorded paths under their roots)."""

from __future__ import annotations

import os

from flask import Blueprint, abort, current_app, request, send_file

from atw import db, query
from pipelines import images

bp = Blueprint("media", __name__)

DISPLAY_SIZES = (800, 1600, 2560)  # long side; requests are rounded up to one of these


@bp.get("/thumbs/<int:photo_id>.jpg")
def thumbnail(photo_id: int):  # type: ignore[no-untyped-def]
    sha = query.photo_sha(db.session(), photo_id)
    if sha is None:
        abort(404, description=f"no photo with id {photo_id}")
    path = images.thumb_path(current_app.config["THUMBS_DIR"], sha)
    if not path.is_file():
        abort(404, description="thumbnail not generated yet; run the indexer")
    return send_file(path, mimetype="image/jpeg", max_age=31536000, etag=sha)


@bp.get("/photos/<int:photo_id>/display.jpg")
def display(photo_id: int):  # type: ignore[no-untyped-def]
    """The photo upright, scaled to fit the screen (cached under <instance>/display)."""
    try:
        want = int(request.args.get("w", 1600))
    except ValueError:
        abort(400, description="w must be a whole number of pixels")
    size = next((s for s in DISPLAY_SIZES if s >= want), DISPLAY_SIZES[-1])
    files = query.photo_files(db.session(), photo_id)
    if files is None:
        abort(404, description=f"no photo with id {photo_id}")
    sha, candidates = files
    cached = images.thumb_path(os.path.join(current_app.instance_path, "display"), sha)
    cached = cached.with_name(f"{sha}-{size}.jpg")
    if not cached.is_file():
        source = next((p for p, root in candidates if inside_root(p, root)), None)
        if source is None:
            abort(404, description="the original file is not on disk (missing or moved)")
        try:
            data = images.display_bytes(source, size, current_app.config["MAX_IMAGE_PIXELS"])
        except images.BadImage as exc:
            abort(404, description=f"the original cannot be shown: {exc}")
        images.write_atomic(cached, data)
    return send_file(cached, mimetype="image/jpeg", max_age=86400, etag=f"{sha}-{size}")


def inside_root(path: str, root: str) -> bool:
    """True when path, with every symlink resolved, is a file inside its indexed root."""
    real, real_root = os.path.realpath(path), os.path.realpath(root)
    if os.path.isfile(real_root):  # a single file was indexed as its own root
        return real == real_root
    return real.startswith(real_root.rstrip(os.sep) + os.sep) and os.path.isfile(real)
