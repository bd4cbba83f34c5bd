"""Serving images: thumbnails from the instance folder, and screen-sized copies of originals
(only of indexed photos, read from their recorded paths under their roots; at most
DISPLAY_DECODES decoded at a time)."""

from __future__ import annotations

import math
import os
import threading

from flask import Blueprint, Response, abort, current_app, request, send_file
from flask.blueprints import BlueprintSetupState

from atw.core import media
from atw.query import records
from atw.web import db

bp = Blueprint("media", __name__)

DISPLAY_SIZES = (800, 1600, 2560)  # long side; requests are rounded up to one of these
SLOTS_KEY = "atw.display_decodes"


@bp.record_once
def _make_slots(state: BlueprintSetupState) -> None:
    """One semaphore per app: an original of up to MAX_IMAGE_PIXELS decodes in each slot."""
    slots = max(1, int(state.app.config["DISPLAY_DECODES"]))
    state.app.extensions[SLOTS_KEY] = threading.BoundedSemaphore(slots)


@bp.get("/thumbs/<int:photo_id>.jpg")
def thumbnail(photo_id: int):  # type: ignore[no-untyped-def]
    sha = records.photo_sha(db.session(), photo_id)
    if sha is None:
        abort(404, description=f"no photo with id {photo_id}")
    path = media.thumb_path(current_app.config["THUMBS_DIR"], sha)
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
    files = records.photo_files(db.session(), photo_id)
    if files is None:
        abort(404, description=f"no photo with id {photo_id}")
    sha, candidates = files
    cached = media.thumb_path(os.path.join(current_app.instance_path, "display"), sha)
    cached = cached.with_name(f"{sha}-{size}.jpg")
    if not cached.is_file():
        source = next((p for p, root in candidates if inside_root(p, root)), None)
        if source is None:
            abort(404, description="the original file is not on disk (missing or moved)")
        slots: threading.BoundedSemaphore = current_app.extensions[SLOTS_KEY]
        wait = float(current_app.config["DISPLAY_DECODE_WAIT"])
        if not slots.acquire(timeout=wait):
            return _busy(wait)
        try:
            if not cached.is_file():  # another request may have made it while this one waited
                max_pixels = current_app.config["MAX_IMAGE_PIXELS"]
                data = media.display_bytes(source, size, max_pixels)
                media.write_atomic(cached, data)
        except media.BadImage as exc:
            abort(404, description=f"the original cannot be shown: {exc}")
        finally:
            slots.release()
    return send_file(cached, mimetype="image/jpeg", max_age=86400, etag=f"{sha}-{size}")


def _busy(waited: float) -> Response:
    """503: every decode slot stayed taken (DISPLAY_DECODES) for DISPLAY_DECODE_WAIT seconds."""
    message = (
        f"busy: every decode slot (DISPLAY_DECODES) stayed taken for {waited:g} s; "
        "try again shortly"
    )
    retry = str(max(1, math.ceil(waited)))
    return Response(message, 503, {"Retry-After": retry}, mimetype="text/plain")


def inside_root(path: str, root: str) -> bool:
    """True when path, with every symlink resolved, is a file inside its indexed root."""
    real, real_root = os.path.realpath(path), os.path.realpath(root)
    if os.path.isfile(real_root):  # a single file was indexed as its own root
        return real == real_root
    return real.startswith(real_root.rstrip(os.sep) + os.sep) and os.path.isfile(real)
