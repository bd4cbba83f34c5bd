"""POST /api/classify: COCO object counts or boxes, or ImageNet classes, for one image sent by a
script (the classic object-detection endpoint contract); stored only with store=true."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, current_app, jsonify, request, url_for
from werkzeug.exceptions import RequestEntityTooLarge

from atw.core.media import BadImage
from atw.services import classifier, upload_store, upload_worker
from atw.web import db
from atw.web.apikeys import csrf

bp = Blueprint("classify", __name__, url_prefix="/api")
csrf.exempt(bp)  # authenticated by API key (atw.web.apikeys), never by a browser session

RAW_TYPES = frozenset(
    {
        "image/jpeg",
        "image/jpg",
        "image/pjpeg",
        "image/png",
        "image/webp",
        "image/heic",
        "image/heif",
        "image/tiff",
        "application/octet-stream",
    }
)
MULTIPART_SLACK = 64 * 1024  # form boundaries and headers around the file
TRUE, FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}


class ApiError(Exception):
    def __init__(self, status: int, message: str, parameter: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.parameter = status, message, parameter


def _error(status: int, message: str, **extra: Any):  # type: ignore[no-untyped-def]
    names = {400: "Bad Request", 413: "Content Too Large", 415: "Unsupported Media Type"}
    names[503] = "Service Unavailable"
    body = {"error": names.get(status, "Error"), "message": message, "status": status, **extra}
    return jsonify(body), status


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):  # type: ignore[no-untyped-def]
    extra = {"parameter": exc.parameter} if exc.parameter else {}
    return _error(exc.status, exc.message, **extra)


@bp.errorhandler(upload_store.Rejected)
def _rejected(exc: upload_store.Rejected):  # type: ignore[no-untyped-def]
    return _error(exc.status, exc.message)


@bp.errorhandler(classifier.ModelUnavailable)
def _unavailable(exc: classifier.ModelUnavailable):  # type: ignore[no-untyped-def]
    return _error(503, f"model unavailable: {exc}")


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(_exc: RequestEntityTooLarge):  # type: ignore[no-untyped-def]
    limit = request.max_content_length
    return _error(413, f"the body is larger than {limit:,} bytes (UPLOAD_MAX_BYTES)")


@dataclass(frozen=True)
class Params:
    threshold: float
    threshold_given: bool
    verbose: bool
    model: str
    store: bool


def _flag(name: str) -> bool:
    raw = request.args.get(name, "").strip().lower()
    if raw in TRUE:
        return True
    if raw in FALSE:
        return False
    raise ApiError(400, f"{name} must be true or false, got {raw!r}", name)


def parse_params(default_threshold: float) -> Params:
    raw = request.args.get("threshold", "").strip()
    threshold = default_threshold
    if raw:
        try:
            threshold = float(raw)
        except ValueError:
            raise ApiError(400, f"threshold must be a number, got {raw!r}", "threshold") from None
        if not 0.0 <= threshold <= 1.0:
            raise ApiError(400, f"threshold must be between 0 and 1, got {raw}", "threshold")
    model = request.args.get("model", "coco").strip().lower() or "coco"
    if model not in classifier.MODELS:
        known = " or ".join(classifier.MODELS)
        raise ApiError(400, f"model must be {known}, got {model!r}", "model")
    return Params(threshold, bool(raw), _flag("verbose"), model, _flag("store"))


def _body(limit: int) -> tuple[bytes, str]:
    """The image bytes: the raw body (an image Content-Type) or multipart field `file`."""
    mimetype = request.mimetype
    if mimetype == "multipart/form-data":
        f = request.files.get("file")
        if f is None:
            raise ApiError(400, "multipart body without a 'file' field", "file")
        return upload_store.read_limited(
            f.stream, limit, f.filename or "file"
        ), f.filename or "upload"
    if mimetype in RAW_TYPES:
        return request.get_data(cache=False), "upload"
    sent = f"Content-Type {mimetype!r}" if mimetype else "no Content-Type"
    raise ApiError(
        415,
        f"unsupported type: {sent}; send the image as the body with Content-Type image/jpeg, "
        "image/png or image/webp (HEIC/HEIF and TIFF also accepted), or as multipart field 'file'",
    )


@bp.post("/classify")
def classify_image():  # type: ignore[no-untyped-def]
    config = current_app.config
    limit = int(config["UPLOAD_MAX_BYTES"])
    request.max_content_length = min(int(config["MAX_CONTENT_LENGTH"]), limit + MULTIPART_SLACK)
    params = parse_params(float(config["CLASSIFY_THRESHOLD"]))
    data, name = _body(limit)
    if len(data) > limit:
        raise upload_store.Rejected(413, f"file too large: {len(data):,} bytes exceeds {limit:,}")
    img = classifier.decodable(data, int(config["MAX_IMAGE_PIXELS"]))
    try:
        items = classifier.run(img, config, params.model)
    except BadImage as exc:
        raise upload_store.Rejected(400, f"unreadable image: {exc}") from None
    if params.model == "imagenet":
        threshold = params.threshold if params.threshold_given else None
        payload: Any = classifier.classes(items, threshold)  # type: ignore[arg-type]
    elif params.verbose:
        payload = classifier.boxes(items, params.threshold)  # type: ignore[arg-type]
    else:
        payload = classifier.counts(items, params.threshold)  # type: ignore[arg-type]
    headers: dict[str, str] = {}
    if params.store:
        rec = upload_store.receive(
            db.session(),
            config["INSTANCE_PATH"],
            data,
            name,
            max_bytes=limit,
            max_pixels=int(config["MAX_IMAGE_PIXELS"]),
        )
        upload_worker.notify(config)
        headers["X-ATW-Upload-Id"] = str(rec.id)
        headers["X-ATW-Upload-Status"] = url_for("upload.status", ids=rec.id)
    return jsonify(payload), 200, headers
