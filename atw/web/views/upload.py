"""The upload page: several photos at once, per-file progress from a small JSON status endpoint,
then each photo's labels and boxes with a link to the viewer."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from atw.services import upload_store, upload_worker
from atw.web import apikeys, db
from atw.web.forms import UploadForm

bp = Blueprint("upload", __name__)
MAX_STATUS_IDS = 200


def wants_json() -> bool:
    """The page's script asks for JSON; a plain form post (no script) gets the page back."""
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return request.path.startswith("/upload/status") or best == "application/json"


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
    """CSRF failures, 401/403 and 413 (body over MAX_CONTENT_LENGTH) as JSON for the script."""
    code = exc.code or 500
    if wants_json():
        return jsonify(error=exc.name, message=exc.description, status=code), code
    return render_template("error.html", error=exc), code


def limits() -> dict[str, Any]:
    c = current_app.config
    return {
        "max_files": int(c["UPLOAD_MAX_FILES"]),
        "max_bytes": int(c["UPLOAD_MAX_BYTES"]),
        "retention_days": c["UPLOAD_RETENTION_DAYS"],
        "folder": str(upload_store.uploads_dir(c["INSTANCE_PATH"])),
        "types": upload_store.ALLOWED_NAMES,
    }


@bp.get("/upload")
@apikeys.writes_state
def page():  # type: ignore[no-untyped-def]
    return render_template("upload.html", form=UploadForm(), limits=limits(), results=[])


@bp.post("/upload")
def upload():  # type: ignore[no-untyped-def]
    form = UploadForm()
    form.validate_on_submit()  # the CSRF token is checked (and refused) by CSRFProtect first
    config = current_app.config
    files = [f for f in request.files.getlist(form.files.name) if f.filename]
    if not files:
        return _answer(form, [], 400, "choose at least one photo")
    if len(files) > int(config["UPLOAD_MAX_FILES"]):
        message = (
            f"{len(files)} files sent: at most {config['UPLOAD_MAX_FILES']} per upload "
            "(UPLOAD_MAX_FILES)"
        )
        return _answer(form, [], 413, message)
    mtime = upload_store.parse_mtime(form.last_modified.data) if len(files) == 1 else None
    session = db.session()
    results = [
        upload_store.receive_file(session, config, f.stream, f.filename, mtime) for f in files
    ]
    accepted = [r for r in results if r["status"] != "rejected"]
    if any(r.get("id") for r in accepted):
        upload_worker.notify(config)
    upload_store.attach_photos(session, results)
    for r in results:
        with_urls(r)
    code = 200 if accepted else results[0]["code"]
    return _answer(form, results, code, None)


def _answer(form: UploadForm, results: list[dict[str, Any]], code: int, message: str | None):  # type: ignore[no-untyped-def]
    if wants_json():
        body: dict[str, Any] = {"files": results, "status": code}
        if message or code != 200:
            body["message"] = message or results[0]["message"]
        return jsonify(body), code
    return (
        render_template(
            "upload.html", form=UploadForm(), limits=limits(), results=results, message=message
        ),
        code,
    )


@bp.get("/upload/status")
def status():  # type: ignore[no-untyped-def]
    """{"uploads": [{id, name, status, message, photo_id, photo_url, thumbnail_url, photo}],
    "pending": n} for ?ids=1,2,3 (queued | indexing | done | failed | unknown)."""
    raw = request.args.get("ids", "")
    try:
        ids = [int(x) for x in raw.replace(" ", "").split(",") if x][:MAX_STATUS_IDS]
    except ValueError:
        return jsonify(error="Bad Request", message="ids must be numbers: ?ids=1,2,3"), 400
    recs = upload_store.statuses(db.session(), ids)
    pending = sum(r["status"] in upload_store.PENDING for r in recs)
    if pending:
        upload_worker.worker_for(
            current_app.config
        )  # after a restart, pick queued uploads up again
    for r in recs:
        with_urls(r)
    return jsonify(uploads=recs, pending=pending)


def with_urls(r: dict[str, Any]) -> dict[str, Any]:
    """The viewer's and the thumbnail's URLs of an answer that has its photo."""
    if r.get("photo_id"):
        r["photo_url"] = url_for("pages.photo", photo_id=r["photo_id"])
        r["thumbnail_url"] = url_for("media.thumbnail", photo_id=r["photo_id"])
    return r
