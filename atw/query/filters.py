"""What a photo filter is and how it is written: PhotoFilter, request args ⇄ filter, words."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date
from typing import Any

MATCHES = ("any", "all")
SOURCES = ("any", "imagenet", "coco")
SORTS = ("newest", "oldest", "nearest")
MAX_COUNT = 100  # min_count above this is surely a typo
# Query complexity caps: each class is a join, long strings are scanned in indexes.
MAX_CLASSES = 20
MAX_TEXT = 1000  # characters in a folder, camera make or camera model
MAX_RADIUS_KM = 20037.5  # half the Earth's circumference: the whole globe
SOURCE_NAMES = {"imagenet": "ImageNet", "coco": "COCO"}


class FilterError(ValueError):
    """An invalid filter value; `param` names the query parameter at fault."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param, self.message = param, message


@dataclass(frozen=True)
class PhotoFilter:
    """Which photos to show and in which order. The default (no field set) is every listed
    photo, newest first. Invalid combinations raise FilterError naming the parameter.

    start/end: local capture date, both inclusive. estimated: include photos whose time is only
    estimated (from the file's mtime). classes: class names; match any/all of them; source
    limits which labeller's classes count; min_score: a class counts only at this score or more
    (None: any stored score); min_count: at least this many COCO boxes of the class (each
    ≥ min_score). lat/lon: a centre (degrees); radius_km: great-circle distance from it;
    has_gps: True/False/None (any). camera_make/camera_model: exact EXIF strings. folder: only
    photos with a path under this folder. sort: newest, oldest, or nearest (needs the centre)."""

    start: date | None = None
    end: date | None = None
    estimated: bool = True
    classes: tuple[str, ...] = ()
    match: str = "any"
    source: str = "any"
    min_score: float | None = None
    min_count: int = 1
    lat: float | None = None
    lon: float | None = None
    radius_km: float | None = None
    has_gps: bool | None = None
    camera_make: str | None = None
    camera_model: str | None = None
    folder: str | None = None
    sort: str = "newest"

    def __post_init__(self) -> None:
        classes = tuple(dict.fromkeys(c.strip() for c in self.classes if c and c.strip()))
        object.__setattr__(self, "classes", classes)
        folder = self.folder.strip() if self.folder else None
        if folder and len(folder) > 1:
            folder = folder.rstrip("/") or "/"
        object.__setattr__(self, "folder", folder or None)
        for name in ("camera_make", "camera_model"):
            value = getattr(self, name)
            object.__setattr__(self, name, (value.strip() or None) if value else None)
        self._check()

    def _check(self) -> None:
        if self.start and self.end and self.start > self.end:
            raise FilterError("end", f"end ({self.end}) is before start ({self.start})")
        _one_of("match", self.match, MATCHES)
        _one_of("source", self.source, SOURCES)
        _one_of("sort", self.sort, SORTS)
        if len(self.classes) > MAX_CLASSES:
            raise FilterError("classes", f"at most {MAX_CLASSES} classes, got {len(self.classes)}")
        for name in ("folder", "camera_make", "camera_model"):
            value = getattr(self, name)
            if value is not None and len(value) > MAX_TEXT:
                raise FilterError(name, f"{name} is longer than {MAX_TEXT} characters")
        if self.min_score is not None and not 0.0 <= self.min_score <= 1.0:
            raise FilterError(
                "min_score", f"min_score must be between 0 and 1, got {self.min_score}"
            )
        if not 1 <= self.min_count <= MAX_COUNT:
            raise FilterError(
                "min_count", f"min_count must be 1 … {MAX_COUNT}, got {self.min_count}"
            )
        if self.min_count > 1 and not self.classes:
            raise FilterError("min_count", "min_count needs classes (e.g. classes=person)")
        if self.min_count > 1 and self.source == "imagenet":
            raise FilterError("min_count", "min_count counts COCO objects: use source=coco or any")
        if self.lat is not None and not -90.0 <= self.lat <= 90.0:
            raise FilterError("lat", f"lat must be between -90 and 90, got {self.lat}")
        if self.lon is not None and not -180.0 <= self.lon <= 180.0:
            raise FilterError("lon", f"lon must be between -180 and 180, got {self.lon}")
        if (self.lat is None) != (self.lon is None):
            missing = "lon" if self.lon is None else "lat"
            raise FilterError(
                missing, f"{missing} is needed with {'lat' if missing == 'lon' else 'lon'}"
            )
        if self.radius_km is not None:
            if self.lat is None:
                raise FilterError("radius_km", "radius_km needs a centre: lat and lon")
            if not (math.isfinite(self.radius_km) and self.radius_km > 0):
                raise FilterError(
                    "radius_km", f"radius_km must be a positive number of km, got {self.radius_km}"
                )
            if self.radius_km > MAX_RADIUS_KM:
                raise FilterError(
                    "radius_km",
                    f"radius_km must be at most {MAX_RADIUS_KM:g} (half the Earth's "
                    f"circumference), got {self.radius_km:g}",
                )
            if self.has_gps is False:
                raise FilterError("has_gps", "has_gps=no cannot be combined with a radius")
        if self.sort == "nearest" and self.lat is None:
            raise FilterError("sort", "sort=nearest needs a centre: lat and lon")

    @property
    def centre(self) -> tuple[float, float] | None:
        return None if self.lat is None or self.lon is None else (self.lat, self.lon)

    def is_empty(self) -> bool:
        """No condition at all (the sort and thresholds without classes do not filter)."""
        return photo_conditions_empty(self) and not self.classes


def photo_conditions_empty(flt: PhotoFilter) -> bool:
    """True when no condition on the photo itself (date, time, place, camera, folder) is set."""
    return (
        flt.start is None
        and flt.end is None
        and flt.estimated
        and flt.radius_km is None
        and flt.has_gps is None
        and flt.camera_make is None
        and flt.camera_model is None
        and flt.folder is None
    )


def _one_of(param: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise FilterError(param, f"{param} must be one of {', '.join(allowed)}, got {value!r}")


# --- request args → filter -----------------------------------------------------------------


def parse(args: Mapping[str, Any]) -> PhotoFilter:
    """A PhotoFilter from query-string-like args (a dict or Werkzeug MultiDict). Empty values
    count as absent; unknown keys are ignored. Raises FilterError naming the parameter."""

    def get(name: str) -> str | None:
        raw = args.get(name)
        if raw is None:
            return None
        raw = str(raw).strip()
        return raw or None

    classes: list[str] = []
    raw_classes = args.getlist("classes") if hasattr(args, "getlist") else [args.get("classes")]
    for raw in raw_classes:
        if raw:
            classes += [c.strip() for c in str(raw).split(",") if c.strip()]
    return PhotoFilter(
        start=_date("start", get("start")),
        end=_date("end", get("end")),
        estimated=_choice("estimated", get("estimated"), {"include": True, "exclude": False}, True),
        classes=tuple(classes),
        match=get("match") or "any",
        source=get("source") or "any",
        min_score=_float("min_score", get("min_score")),
        min_count=_int("min_count", get("min_count"), 1),
        lat=_float("lat", get("lat")),
        lon=_float("lon", get("lon")),
        radius_km=_float("radius_km", get("radius_km")),
        has_gps=_choice("has_gps", get("has_gps"), {"yes": True, "no": False, "any": None}, None),
        camera_make=get("camera_make"),
        camera_model=get("camera_model"),
        folder=get("folder"),
        sort=get("sort") or "newest",
    )


def _date(param: str, raw: str | None) -> date | None:
    if raw is None:
        return None
    try:
        if len(raw) != 10:
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        raise FilterError(param, f"{param} must be a date YYYY-MM-DD, got {raw!r}") from None


def _float(param: str, raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise FilterError(param, f"{param} must be a number, got {raw!r}") from None
    if not math.isfinite(value):
        raise FilterError(param, f"{param} must be a finite number, got {raw!r}")
    return value


def _int(param: str, raw: str | None, default: int) -> int:
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise FilterError(param, f"{param} must be a whole number, got {raw!r}") from None


def _choice(param: str, raw: str | None, options: dict[str, Any], default: Any) -> Any:
    if raw is None:
        return default
    if raw not in options:
        raise FilterError(param, f"{param} must be one of {', '.join(options)}, got {raw!r}")
    return options[raw]


# --- filter → args, filter → words ------------------------------------------------------


# What a private export keeps to itself: where (the centre and radius, and so the nearest-first
# order around it), which folder, which camera. Private outputs name none of these values.
PRIVATE_PARAMS = ("lat", "lon", "radius_km", "camera_make", "camera_model", "folder")


def withheld(flt: PhotoFilter) -> list[str]:
    """The private parameters this filter sets (their names only), in PRIVATE_PARAMS order."""
    return [name for name in PRIVATE_PARAMS if getattr(flt, name) is not None]


def to_args(flt: PhotoFilter, private: bool = False) -> dict[str, str]:
    """The query-string args that parse() turns back into this filter (defaults left out).
    private leaves out PRIVATE_PARAMS (and sort=nearest, which needs the centre): what is left
    still parses, but is a wider filter when withheld(flt) is not empty."""
    out: dict[str, str] = {}
    default = PhotoFilter()
    for f in fields(PhotoFilter):
        value = getattr(flt, f.name)
        if value == getattr(default, f.name):
            continue
        if private and (f.name in PRIVATE_PARAMS or (f.name == "sort" and value == "nearest")):
            continue
        if f.name == "classes":
            out[f.name] = ",".join(value)
        elif f.name == "estimated":
            out[f.name] = "include" if value else "exclude"
        elif f.name == "has_gps":
            out[f.name] = "yes" if value else "no"
        elif isinstance(value, date):
            out[f.name] = value.isoformat()
        else:
            out[f.name] = repr(value) if isinstance(value, float) else str(value)
    return out


def describe(flt: PhotoFilter, private: bool = False) -> str:
    """The filter in plain words, e.g. "beach or seashore ≥ 0.5, 1 Jun 2014 – 31 Jul 2014,
    within 20 km of 38.72, −9.14". private names no place, radius, folder or camera: "within a
    radius of a private place", "in a private folder", "with a private camera"."""
    parts: list[str] = []
    if flt.classes:
        names = _join(list(flt.classes), " and " if flt.match == "all" else " or ")
        if flt.min_count > 1:
            names = f"at least {flt.min_count} × {names}"
        if flt.min_score is not None:
            names += f" ≥ {_num(flt.min_score)}"
        if flt.source != "any":
            names += f" ({SOURCE_NAMES[flt.source]})"
        parts.append(names)
    if flt.start and flt.end:
        parts.append(
            _day(flt.start) if flt.start == flt.end else f"{_day(flt.start)} – {_day(flt.end)}"
        )
    elif flt.start:
        parts.append(f"from {_day(flt.start)}")
    elif flt.end:
        parts.append(f"until {_day(flt.end)}")
    if not flt.estimated:
        parts.append("known capture times only")
    place = "a private place" if private else f"{_coord(flt.lat)}, {_coord(flt.lon)}"
    if flt.centre and flt.radius_km is not None:
        radius = "a radius" if private else f"{_num(flt.radius_km)} km"
        parts.append(f"within {radius} of {place}")
    if flt.has_gps is not None:
        parts.append("with GPS" if flt.has_gps else "without GPS")
    camera = " ".join(c for c in (flt.camera_make, flt.camera_model) if c)
    if camera:
        parts.append("with a private camera" if private else f"camera {camera}")
    if flt.folder:
        parts.append("in a private folder" if private else f"in {flt.folder}")
    text = ", ".join(parts) if parts else "all photos"
    if flt.sort == "oldest":
        text += "; oldest first"
    elif flt.sort == "nearest":
        text += f"; nearest to {place} first"
    return text


def _join(items: list[str], word: str) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + word + items[-1]


def _day(d: date) -> str:
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    return f"{d.day} {months[d.month - 1]} {d.year}"


def _num(x: float) -> str:
    return f"{x:.4f}".rstrip("0").rstrip(".")


def _coord(x: float | None) -> str:
    return _num(x or 0.0).replace("-", "−")
