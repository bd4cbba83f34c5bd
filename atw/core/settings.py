"""The declared settings (name, type, default, help); reading instance/config.py and ATW_*."""

from __future__ import annotations

import difflib
import logging
import math
import os
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Setting:
    """One setting. `help` is one line of Markdown: the README's configuration table is made
    from these rows (scripts/settings_table.py) and tests/test_settings.py keeps it in step."""

    name: str
    kind: type  # str, int, float, bool, or list (a list of strings)
    default: Any
    help: str
    shown: str = ""  # the README's default cell, when the value alone does not say it
    choices: tuple[str, ...] = ()  # allowed values of a str setting (compared in lower case)
    multiple: bool = False  # a comma-separated subset of `choices`, kept as the string
    min: float | None = None
    max: float | None = None
    env: bool = True  # may be set as ATW_<NAME>
    config: bool = True  # a config key (instance/config.py); False: environment only


S = Setting
# fmt: off
# Adding a setting: one row here (README order), then `python scripts/settings_table.py --write`
# rewrites the README's table from these rows (docs/architecture.md, "Where do I put …").
SETTINGS: tuple[Setting, ...] = (
    S("INSTANCE_PATH", str, "", "where the database, thumbnails, models cache and everything atw "
      "writes go", shown="`instance/`", config=False),
    S("DATABASE_URL", str, "", "SQLAlchemy URL of the index",
      shown="`sqlite:///<instance>/atw.sqlite`"),
    S("SECRET_KEY", str, "", "signs sessions and CSRF tokens; never stored in the repo",
      shown="generated into `<instance>/secret_key`"),
    S("THUMB_SIZE", int, 400, "long side of thumbnails, px", min=1),
    S("THUMB_QUALITY", int, 82, "JPEG quality of thumbnails", min=1, max=100),
    S("INDEX_WORKERS", int, 0, "worker processes of an index run (each uses one thread)",
      shown="`0` (one per core)", min=0),
    S("INDEX_BATCH_SIZE", int, 64, "photos per database transaction", min=1),
    S("MAX_IMAGE_PIXELS", int, 250_000_000, "larger images are quarantined as decompression "
      "bombs", min=1),
    S("MAX_FILE_BYTES", int, 1_000_000_000, "larger files are quarantined without being read",
      min=1),
    S("FILE_TIMEOUT", float, 120, "seconds one file may take before it is quarantined", min=0.1),
    S("INDEX_TWO_PHASE", str, "auto", "list every new photo (metadata, thumbnail, place) before "
      "labelling any, so the dashboard shows them all long before labelling ends; the labelling "
      "phase decodes them again: `auto` (when a run has more than `INDEX_TWO_PHASE_MIN` new "
      "files), `always`, or `never` (one pass, each photo labelled as it is read)",
      choices=("auto", "always", "never")),
    S("INDEX_TWO_PHASE_MIN", int, 1000, "new files above which `INDEX_TWO_PHASE=auto` runs in two "
      "phases", min=0),
    S("INDEX_ENGINE", str, "local", "where an index run's workers run: `local` (processes on this "
      "machine) or `ray` (actors on a Ray cluster: the `cluster` extra; README, Scaling up: Ray)",
      choices=("local", "ray")),
    S("RAY_ADDRESS", str, "", "the Ray cluster of `INDEX_ENGINE=ray`: its head's `host:port`",
      shown="empty (a Ray instance on this machine, for the run)"),
    S("RAY_GPUS", float, 0, "GPUs each Ray actor asks for (`0.5`: two actors share one; the "
      "actors then run on GPU nodes)", min=0),
    S("FILE_TIME_ZONE", str, "local", "zone of file modification times, used as the estimated "
      "capture time of a photo without an EXIF date: an IANA name (`Europe/Lisbon`, `UTC`) or "
      "`local` (the indexing machine's zone, from `TZ` or `/etc/localtime`)"),
    S("HOME", str, "", "where home is, for trips: a place name resolved offline by the "
      "gazetteer (`Lisbon`, `Paris, US`, `Portland, Oregon`: the most populous of that name) or "
      "`lat,lon` (`38.72,-9.14`)", shown="empty (the archive's most frequent place)"),
    S("TRIP_MIN_KM", float, 100.0, "a photo this far from home, or farther, makes its day a day "
      "away (trips)", min=0.001),
    S("TRIP_MAX_GAP_DAYS", int, 2, "days with no photo away (none, or none with a position) "
      "that a trip bridges; a day with photos at home always ends it", min=0),
    S("LABELERS", str, "imagenet,coco", "labelling stages to run (empty: metadata only)",
      choices=("imagenet", "coco"), multiple=True),
    S("IMAGENET_MODEL", str, "mobilenet_v3_large", "torchvision classification model"),
    S("IMAGENET_WEIGHTS", str, "", "a state-dict file for `IMAGENET_MODEL`"),
    S("IMAGENET_RUNTIME", str, "auto", "`auto` (ONNX copy when it matches PyTorch), `onnx`, "
      "`eager` or `openvino` (the ONNX copy on OpenVINO, bf16 where the processor has it; its "
      "own weights id)", choices=("auto", "onnx", "eager", "openvino")),
    S("IMAGENET_TRANSFORMS", str, "", "torchvision weights recipe used to preprocess a custom "
      "`IMAGENET_WEIGHTS` file (default: the file's own if it is a torchvision checkpoint, else "
      "`IMAGENET1K_V1`)"),
    S("YOLO_MODEL", str, "", "a YOLO detector exported to ONNX"),
    S("YOLO_RUNTIME", str, "auto", "how the YOLO detector runs: `auto` (`int8` where "
      "OpenVINO and NNCF are installed, else `openvino` where OpenVINO is, else `fp32`), "
      "`file` (the ONNX "
      "file as it is, on onnxruntime), `fp32` (float; weights recovered from a dynamic-int8 "
      "file), `qdq` (static int8 on onnxruntime), `int8` (NNCF's static int8 on OpenVINO), "
      "`openvino` (float graph on OpenVINO); the int8 graphs are calibrated on "
      "`YOLO_CALIBRATION`; stored with every box: changing it relabels",
      choices=("auto", "file", "fp32", "qdq", "openvino", "int8")),
    S("YOLO_RECT", bool, True, "letterbox a photo to a rectangle of stride multiples with a "
      "half-stride border (640×512 for 4:3) rather than the 640×640 square: ~20 % less "
      "detector work (not with `YOLO_RUNTIME=file`); changing it relabels"),
    S("YOLO_RESIZE", str, "linear", "how a photo is scaled into the detector's input: "
      "`linear` (OpenCV's INTER_LINEAR, as Ultralytics trains and validates; ~4 ms a photo "
      "less) or `antialias` (Pillow's bilinear); changing it relabels",
      choices=("linear", "antialias")),
    S("YOLO_CALIBRATION", str, "", "a folder of everyday photos (not your test photos) that "
      "calibrates `YOLO_RUNTIME` `int8` and `qdq`; empty: the 20 photos shipped in "
      "pipelines/labelers/calibration (Debian and PyPI packages, SOURCES.md)"),
    S("LABEL_DEVICE", str, "cpu", "where the labellers run: `cpu`, or `cuda` (an NVIDIA GPU: "
      "the classifier in PyTorch, the detector on onnxruntime-gpu's CUDA provider, both in "
      "float, so `IMAGENET_RUNTIME` `auto` or `eager` and `YOLO_RUNTIME` `auto` (then `fp32`), "
      "`fp32` or `file`; a process without a GPU stops with what to install or set; with "
      "`--engine ray` set `RAY_GPUS` so that the actors get one)", choices=("cpu", "cuda")),
    S("DETECTOR_FALLBACK", str, "fasterrcnn_mobilenet_v3_large_fpn", "torchvision COCO "
      "detector used when no YOLO file is found"),
    S("MODELS_DIR", str, "", "folder searched for weights files", shown="`<instance>/models`"),
    S("PER_PAGE", int, 100, "page size of the grid and the API", min=1),
    S("MAX_PER_PAGE", int, 500, "the most photos a client may ask for in one page", min=1),
    S("UPLOAD_MAX_BYTES", int, 50_000_000, "largest photo the upload page or `/api/classify` "
      "accepts, bytes", min=1),
    S("UPLOAD_MAX_FILES", int, 20, "most photos in one upload request (the page checks the "
      "selection too)", min=1),
    S("MAX_CONTENT_LENGTH", int, 0, "largest request body, bytes (Flask's own setting)",
      shown="`0` (= `UPLOAD_MAX_BYTES × UPLOAD_MAX_FILES` + 1 MiB)", min=0),
    S("UPLOAD_RETENTION_DAYS", float, 0, "uploads are deleted this many days after their last "
      "upload", shown="`0` (off)", min=0),
    S("UPLOAD_WORKERS", int, 1, "worker processes of the background upload indexer (`0`: "
      "`INDEX_WORKERS`)", min=0),
    S("UPLOAD_RETRY_SECONDS", float, 5, "how often queued uploads retry while another index run "
      "holds the lock", min=0.1),
    S("CLASSIFY_THRESHOLD", float, 0.75, "default `threshold` of `/api/classify`", min=0, max=1),
    S("API_KEY", str, "", "an API key; when it or `API_KEYS` is set, uploads, `/api/classify` "
      "and every state-changing request need one"),
    S("API_KEYS", list, [], "more keys: a list in `instance/config.py`, or comma-separated in "
      "`ATW_API_KEYS`"),
    S("API_KEYS_FOR_READS", bool, False, "with keys set, also require one for pages and "
      "`GET /api/…`"),
    S("TRUSTED_HOSTS", list, [], "host names the server answers to besides `localhost`, "
      "`127.0.0.1`, `[::1]` and the `serve --host`; a list, or comma-separated in "
      "`ATW_TRUSTED_HOSTS` (`.example.org`: its subdomains too; `*`: any name); other names get "
      "400"),
    S("KEY_ATTEMPTS_PER_MINUTE", int, 10, "wrong API keys (request headers or the `/key` page) "
      "one address may try per minute; then 429 (`0`: no limit)", min=0),
    S("REPORT_MAX_PHOTOS", int, 10_000, "most photos `GET /report` builds; a larger filter is "
      "refused with the CLI command that writes it (`0`: no cap)", min=0),
    S("DISPLAY_DECODES", int, 2, "originals decoded at the same time for `display.jpg` (each up "
      "to `MAX_IMAGE_PIXELS`)", min=1),
    S("DISPLAY_DECODE_WAIT", float, 5.0, "seconds a `display.jpg` request waits for a decode "
      "slot before a 503 with `Retry-After`", min=0),
)
# fmt: on
del S

BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}
# The config keys and their defaults (environment-only settings are not config keys).
DEFAULTS: dict[str, Any] = {s.name: s.default for s in SETTINGS if s.config}

# ATW_* variables that are not settings of the app: read by the tests, benchmarks and scripts.
TOOL_VARIABLES: dict[str, str] = {
    "ATW_TEST_DATA": "the folder of real models and photos the tests read (default ../shared)",
    "ATW_CHROMIUM": "the browser the browser tests drive (default /usr/bin/chromium)",
    "ATW_CRASH_KILLS": "how many times tests/test_crash.py kills an index run",
    "ATW_FUZZ_EXAMPLES": "examples per fuzz test",
    "ATW_FUZZ_RANDOM": "1: fuzz tests not derandomized",
    "ATW_MEMORY_PHOTOS": "photos of tests/test_memory.py",
    "ATW_TEST_CRASH_ON": "tests only: an index worker given a file of this name crashes (SIGSEGV)",
}

TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off", ""})
_KIND_WORDS = {
    bool: "a boolean",
    int: "a whole number",
    float: "a number",
    str: "text",
    list: "a list of strings",
}


class SettingsError(ValueError):
    """One or more malformed settings; the message names each, one per line."""


def parse(setting: Setting, text: str) -> Any:
    """An environment string as the setting's type, checked; SettingsError says why not."""
    raw = text.strip()
    value: Any
    if setting.kind is bool:
        if raw.lower() not in TRUE | FALSE:
            raise SettingsError(f"not a boolean (true/false, yes/no, on/off, 1/0): {text!r}")
        value = raw.lower() in TRUE
    elif setting.kind is int:
        try:
            value = int(raw.replace("_", ""))
        except ValueError:
            raise SettingsError(f"not a whole number: {text!r}") from None
    elif setting.kind is float:
        try:
            value = float(raw.replace("_", ""))
        except ValueError:
            raise SettingsError(f"not a number: {text!r}") from None
    elif setting.kind is list:
        value = split_list(text)
    else:
        value = text
    return check(setting, value)


def split_list(text: str) -> list[str]:
    """A comma-separated (or space-separated) list, without empty items."""
    return [part for part in re.split(r"[,\s]+", text) if part]


def check(setting: Setting, value: Any) -> Any:
    """The value if it has the setting's type, choices and range (an int stands for a float, a
    string for a list); else SettingsError saying why."""
    kind = setting.kind
    is_bool = isinstance(value, bool)
    if kind is list and isinstance(value, str):
        value = split_list(value)
    ok = {
        bool: is_bool,
        int: isinstance(value, int) and not is_bool,
        float: isinstance(value, int | float) and not is_bool,
        str: isinstance(value, str),
        list: isinstance(value, list | tuple) and all(isinstance(v, str) for v in value),
    }[kind]
    if not ok:
        got = type(value).__name__
        raise SettingsError(f"expected {_KIND_WORDS[kind]}, got {value!r} (a {got})")
    if kind is float and not math.isfinite(value):
        raise SettingsError(f"not a finite number: {value!r}")
    if setting.min is not None and value < setting.min:
        raise SettingsError(f"must be at least {setting.min:g}: {value!r}")
    if setting.max is not None and value > setting.max:
        raise SettingsError(f"must be at most {setting.max:g}: {value!r}")
    if setting.choices:
        items = split_list(value) if setting.multiple else [value.strip()]
        wrong = [i for i in items if i.lower() not in setting.choices]
        if wrong:
            one = "each of" if setting.multiple else "one of"
            raise SettingsError(f"must be {one} {', '.join(setting.choices)}: {value!r}")
    return list(value) if kind is list else value


def closest(name: str, known: Iterable[str]) -> str | None:
    """The known name most like `name` (a likely misspelling), if any is close."""
    found = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return found[0] if found else None


_warned: set[str] = set()


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        log.warning(message)


def from_environ(environ: Mapping[str, str]) -> dict[str, Any]:
    """Every declared ATW_<KEY> variable as a typed, checked config entry. A malformed value
    raises SettingsError naming each variable and why; an unknown ATW_* name is ignored with a
    warning (once per process) naming the closest known variable."""
    known = {f"ATW_{s.name}" for s in SETTINGS if s.env} | set(TOOL_VARIABLES)
    out: dict[str, Any] = {}
    problems: list[str] = []
    for name in sorted(environ):
        if not name.startswith("ATW_") or name in TOOL_VARIABLES:
            continue
        setting = BY_NAME.get(name[4:])
        if setting is None or not setting.env:
            hint = closest(name, known)
            _warn_once(
                f"atw: ignoring unknown environment variable {name}"
                + (f" (did you mean {hint}?)" if hint else "")
                + " (the settings: README.md, Configuration)"
            )
            continue
        if not setting.config:  # read where it is needed (ATW_INSTANCE_PATH)
            continue
        try:
            out[setting.name] = parse(setting, environ[name])
        except SettingsError as exc:
            problems.append(f"{name}: {exc}")
    if problems:
        raise SettingsError("\n".join(problems))
    return out


def check_file(
    values: Mapping[str, Any], source: str, passthrough: Iterable[str]
) -> dict[str, Any]:
    """The keys a config file sets, the declared ones checked (types, choices, ranges; a list
    given as a string is split); SettingsError names the file, each key and why. Other keys
    pass (Flask's and its extensions'); one not in `passthrough` but close to a declared key
    gets a warning."""
    out = dict(values)
    problems: list[str] = []
    others = set(passthrough)
    declared = [s.name for s in SETTINGS if s.config]
    for key, value in values.items():
        setting = BY_NAME.get(key)
        if setting is None:
            hint = None if key in others else difflib.get_close_matches(key, declared, 1, 0.8)
            if hint:
                _warn_once(f"atw: {source}: unknown setting {key} (did you mean {hint[0]}?)")
            continue
        if not setting.config:
            problems.append(f"{key}: set it in the environment (ATW_{key}), not here")
            continue
        try:
            out[key] = check(setting, value)
        except SettingsError as exc:
            problems.append(f"{key}: {exc}")
    if problems:
        raise SettingsError("\n".join(f"{source}: {p}" for p in problems))
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
