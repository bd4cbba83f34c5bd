"""Configuration: defaults, then instance/config.py, then ATW_* environment variables."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

# Every key here can be overridden in instance/config.py or by an environment variable ATW_<KEY>.
# The README documents each one; keep the two in step.
DEFAULTS: dict[str, Any] = {
    # SQLAlchemy URL of the index; empty means sqlite:///<instance>/atw.sqlite
    "DATABASE_URL": "",
    # Secret for sessions and CSRF; empty means generated once into <instance>/secret_key
    "SECRET_KEY": "",
    # Long side of thumbnails, in pixels
    "THUMB_SIZE": 400,
    # JPEG quality of thumbnails
    "THUMB_QUALITY": 82,
    # Worker processes for indexing (0 = one per core)
    "INDEX_WORKERS": 0,
    # Photos written per database transaction during an index run
    "INDEX_BATCH_SIZE": 64,
    # Decompression-bomb guard: images with more pixels than this are quarantined
    "MAX_IMAGE_PIXELS": 250_000_000,
    # Files larger than this many bytes are quarantined without being read
    "MAX_FILE_BYTES": 1_000_000_000,
    # Seconds one file may take in a worker before it is quarantined as a hang
    "FILE_TIMEOUT": 120,
    # Zone of file modification times, used as the (estimated) capture time of a photo with no
    # EXIF date: an IANA name (Europe/Lisbon, UTC) or "local" (the indexing machine's zone)
    "FILE_TIME_ZONE": "local",
    # Labelling stages to run, comma separated: imagenet, coco (empty = index metadata only)
    "LABELERS": "imagenet,coco",
    # torchvision classification model for ImageNet labels
    "IMAGENET_MODEL": "mobilenet_v3_large",
    # A state-dict file for IMAGENET_MODEL (optional; else MODELS_DIR, else torchvision's cache)
    "IMAGENET_WEIGHTS": "",
    # How to run the classifier: auto (ONNX copy if it matches PyTorch, else eager), onnx, eager
    "IMAGENET_RUNTIME": "auto",
    # Which torchvision weights recipe preprocesses a custom IMAGENET_WEIGHTS file (empty: the
    # file's own recipe when it is a torchvision checkpoint, else IMAGENET1K_V1)
    "IMAGENET_TRANSFORMS": "",
    # A YOLO detector exported to ONNX (optional; else MODELS_DIR, else the torchvision detector)
    "YOLO_MODEL": "",
    # How the YOLO detector runs: auto (openvino where installed, else fp32), file (the ONNX
    # file as it is, on onnxruntime), fp32 (float; weights recovered from a dynamic-int8 file),
    # qdq (static int8 calibrated on YOLO_CALIBRATION), openvino (float graph on OpenVINO, bf16
    # where the processor has it). Stored with every box: changing it relabels.
    "YOLO_RUNTIME": "auto",
    # Letterbox a photo to the smallest stride multiple that holds it (640×480 for 4:3) rather
    # than the full 640×640 square: ~20 % less detector work (not with YOLO_RUNTIME=file).
    # Off by default: see README, "Detector runtimes". Changing it relabels.
    "YOLO_RECT": False,
    # A folder of everyday photos (not your test photos) that calibrates YOLO_RUNTIME=qdq
    "YOLO_CALIBRATION": "",
    # torchvision COCO detector used when no YOLO file is found
    "DETECTOR_FALLBACK": "fasterrcnn_mobilenet_v3_large_fpn",
    # Folder searched for weights files; empty means <instance>/models
    "MODELS_DIR": "",
    # Photos per page in the API and grid, and the most a client may ask for
    "PER_PAGE": 100,
    "MAX_PER_PAGE": 500,
    # --- Uploads, the classify API and API keys (atw/services, atw/web/apikeys.py) ---
    # Largest photo accepted by the upload page or POST /api/classify, in bytes
    "UPLOAD_MAX_BYTES": 50_000_000,
    # Most photos accepted in one upload (the page checks the selection too)
    "UPLOAD_MAX_FILES": 20,
    # Largest request body, in bytes; 0 means UPLOAD_MAX_BYTES × UPLOAD_MAX_FILES + 1 MiB
    "MAX_CONTENT_LENGTH": 0,
    # Uploads older than this many days are deleted (files, index rows, thumbnails); 0 = keep
    "UPLOAD_RETENTION_DAYS": 0,
    # Worker processes the background upload indexer uses (0 = INDEX_WORKERS)
    "UPLOAD_WORKERS": 1,
    # Seconds between tries while another index run (a CLI `index`) holds the instance's lock
    "UPLOAD_RETRY_SECONDS": 5,
    # Default score threshold of POST /api/classify
    "CLASSIFY_THRESHOLD": 0.75,
    # An API key; when it (or API_KEYS) is set, uploads, /api/classify and every state-changing
    # request need it (Authorization: Bearer … or X-API-Key)
    "API_KEY": "",
    # More keys: a list in instance/config.py, or comma-separated in ATW_API_KEYS
    "API_KEYS": [],
    # With keys set, also require one for reads (pages, GET /api/…)
    "API_KEYS_FOR_READS": False,
    # --- Who may reach the server and how much one request may cost (atw/web/security.py) ---
    # Host names the server answers to besides localhost, 127.0.0.1, [::1] and `serve --host`:
    # a list, or comma-separated in ATW_TRUSTED_HOSTS (".example.org" = its subdomains, "*" = any)
    "TRUSTED_HOSTS": [],
    # Wrong API keys (header or /key page) one address may try per minute; then 429 (0 = no limit)
    "KEY_ATTEMPTS_PER_MINUTE": 10,
    # Most photos GET /report builds; larger sets are refused (the CLI `report` has no cap)
    "REPORT_MAX_PHOTOS": 10_000,
    # Screen-sized copies of originals (display.jpg) decoded at the same time
    "DISPLAY_DECODES": 2,
    # Seconds a display.jpg request waits for a decode slot before a 503 with Retry-After
    "DISPLAY_DECODE_WAIT": 5.0,
}


def coerce(value: str, like: Any) -> Any:
    """Turn an environment string into the type of the default it overrides."""
    if isinstance(like, bool):
        v = value.strip().lower()
        if v in {"1", "true", "yes", "on"}:
            return True
        if v in {"0", "false", "no", "off", ""}:
            return False
        raise ValueError(f"not a boolean: {value!r}")
    if isinstance(like, int):
        return int(value.replace("_", ""))
    if isinstance(like, float):
        return float(value)
    return value


def from_environ(environ: os._Environ[str] | dict[str, str]) -> dict[str, Any]:
    """Every ATW_<KEY> variable as a config entry, typed like its default."""
    out: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith("ATW_") or name == "ATW_INSTANCE_PATH":
            continue
        key = name[4:]
        try:
            out[key] = coerce(value, DEFAULTS.get(key, ""))
        except ValueError as exc:
            raise SystemExit(f"atw: environment variable {name}: {exc}") from None
    return out


def finish(config: dict[str, Any], instance_path: str) -> None:
    """Fill the derived defaults (database URL, models folder, secret key) in place."""
    inst = Path(instance_path)
    config["INSTANCE_PATH"] = str(inst)
    if not config.get("DATABASE_URL"):
        config["DATABASE_URL"] = f"sqlite:///{inst / 'atw.sqlite'}"
    if not config.get("MODELS_DIR"):
        config["MODELS_DIR"] = str(inst / "models")
    config["THUMBS_DIR"] = str(inst / "thumbs")
    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = _instance_secret(inst)


def _instance_secret(inst: Path) -> str:
    """Read <instance>/secret_key, creating it (mode 600) with a random key on first use."""
    path = inst / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    key = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key
