"""What a photo filter is and how it is written: PhotoFilter, request args ⇄ filter (strict for
the API, lenient for the pages), words. Its limits and checks are in atw.query.rules."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date
from typing import Any

from atw.query import place_filter, placenames, words
from atw.query.rules import MATCHES, SORTS, SOURCES, FilterError, check, one_of

SOURCE_NAMES = {"imagenet": "ImageNet", "coco": "COCO"}


@dataclass(frozen=True)
class PhotoFilter:
    """Which photos to show and in which order. The default (no field set) is every listed
    photo, newest first. Invalid combinations raise FilterError naming the parameter.

    start/end: local capture date, both inclusive. estimated: include photos whose time is only
    estimated (from the file's mtime). classes: class words (a class, WordNet group or
    category, or a synonym: atw.query.words; an unknown word is refused); match any/all of
    them; source limits which labeller's classes count; min_score: a class counts only at this
    score or more (a group: its group score, atw.core.group_scores; None: any stored score);
    min_count: at least this many COCO boxes of the class (of a group's COCO members; each
    ≥ min_score). lat/lon: a centre (degrees); radius_km: great-circle distance from it;
    has_gps: True/False/None (any). country: ISO alpha-2 codes (any of them; names are read
    into codes), region: a first-level division's name, place: a populated place's name
    (atw.query.place_filter: unknown names refused). camera_make/camera_model: exact EXIF strings.
    folder: only photos with a path under this folder. trip: a trip's id (its first day, from
    atw.query.trip_store; the plan reads it as the trip's days). sort: newest or oldest (by the
    capture instant where it is known, else the wall-clock time), or nearest (needs the centre)."""

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
    country: tuple[str, ...] = ()
    region: str | None = None
    place: str | None = None
    camera_make: str | None = None
    camera_model: str | None = None
    folder: str | None = None
    trip: str | None = None
    sort: str = "newest"

    def __post_init__(self) -> None:
        classes = tuple(dict.fromkeys(c.strip() for c in self.classes if c and c.strip()))
        object.__setattr__(self, "classes", classes)
        folder = self.folder.strip() if self.folder else None
        if folder and len(folder) > 1:
            folder = folder.rstrip("/") or "/"
        object.__setattr__(self, "folder", folder or None)
        for name in ("camera_make", "camera_model", "region", "place"):
            value = getattr(self, name)
            object.__setattr__(self, name, (value.strip() or None) if value else None)
        country = (self.country,) if isinstance(self.country, str) else self.country
        object.__setattr__(self, "country", place_filter.country_codes(country) if country else ())
        self._check()

    def _check(self) -> None:
        check(self)
        words.check(self.classes)  # an unknown class word: refused, with suggestions
        place_filter.check(self)  # an unknown region or place name: refused, with suggestions

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
        and not flt.country
        and flt.region is None
        and flt.place is None
        and flt.camera_make is None
        and flt.camera_model is None
        and flt.folder is None
        and flt.trip is None
    )


# --- request args → filter -----------------------------------------------------------------


def parse(args: Mapping[str, Any]) -> PhotoFilter:
    """A PhotoFilter from query-string-like args (a dict or Werkzeug MultiDict). Empty values
    count as absent; unknown keys are ignored. Raises FilterError naming the parameter (the API
    refuses a bad field)."""
    values, errors = _read(args)
    if errors:
        raise errors[0]
    return PhotoFilter(**values)


# When a combination is at fault, the fields left out with the one the error names.
_LEFT_OUT_WITH = {"lat": ("lat", "lon"), "lon": ("lat", "lon")}


def parse_lenient(args: Mapping[str, Any]) -> tuple[PhotoFilter, list[FilterError]]:
    """The filter without its bad fields, and what was wrong with each (for the pages: a bad
    field never throws away the rest of a filter). A value that does not parse is left out;
    a combination that does not hold (end before start, a radius without a centre) leaves out
    the field the error names (both halves of a centre), until the rest holds."""
    values, errors = _read(args)
    while True:
        try:
            return PhotoFilter(**values), errors
        except FilterError as exc:
            if all(e.param != exc.param for e in errors):
                errors.append(exc)  # one message per field is enough
            dropped = [n for n in _LEFT_OUT_WITH.get(exc.param, (exc.param,)) if n in values]
            if not dropped:  # cannot happen: every check names a field that is set
                return PhotoFilter(), errors
            for name in dropped:
                del values[name]


def _read(args: Mapping[str, Any]) -> tuple[dict[str, Any], list[FilterError]]:
    """Each field's value read on its own: {field: value} for the fields that are set and
    parse, and a FilterError for each that does not (in the order of PhotoFilter's fields)."""

    def get(name: str) -> str | None:
        raw = args.get(name)
        if raw is None:
            return None
        raw = str(raw).strip()
        return raw or None

    values: dict[str, Any] = {}
    errors: list[FilterError] = []
    classes: list[str] = []
    raw_classes = args.getlist("classes") if hasattr(args, "getlist") else [args.get("classes")]
    for raw in raw_classes:
        if raw:
            classes += [c.strip() for c in str(raw).split(",") if c.strip()]
    for name, kind in _KINDS.items():
        raw = tuple(classes) if name == "classes" else get(name)
        try:
            value = _choice(name, raw, kind) if isinstance(kind, tuple | dict) else kind(name, raw)
        except FilterError as exc:
            errors.append(exc)
            continue
        if value is not None and value != ():
            values[name] = value
    return values, errors


ESTIMATED = {"include": True, "exclude": False}
HAS_GPS = {"yes": True, "no": False, "any": None}  # any: the same as leaving it out


def _date(param: str, raw: str | None) -> date | None:
    if raw is None:
        return None
    try:
        if len(raw) != 10:
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        raise FilterError(
            param,
            f"{param} must be a date YYYY-MM-DD, got {raw!r}",
            f"not a date ({raw!r}, expected YYYY-MM-DD)",
        ) from None


def _float(param: str, raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise FilterError(
            param, f"{param} must be a number, got {raw!r}", f"not a number ({raw!r})"
        ) from None
    if not math.isfinite(value):
        raise FilterError(param, f"{param} must be a finite number, got {raw!r}")
    return value


def _int(param: str, raw: str | None) -> int | None:
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise FilterError(
            param,
            f"{param} must be a whole number, got {raw!r}",
            f"not a whole number ({raw!r})",
        ) from None


def _choice(param: str, raw: str | None, options: Mapping[str, Any] | tuple[str, ...]) -> Any:
    if raw is None:
        return None
    one_of(param, raw, options)
    return options[raw] if isinstance(options, Mapping) else raw


def _text(param: str, raw: Any) -> Any:
    return raw


def _countries(param: str, raw: str | None) -> tuple[str, ...] | None:
    """Codes of the countries named ("pt", "Portugal", "PT,ES"); FilterError for a name the
    gazetteer does not know (with suggestions)."""
    return place_filter.country_codes([raw]) if raw else None


def _trip(param: str, raw: str | None) -> str | None:
    """A trip id as /api/trips gives it (its first day); whether it is one is the plan's check."""
    if raw is not None and (len(raw) != 10 or _date(param, raw) is None):
        raise FilterError(param, f"{param} must be a trip id (YYYY-MM-DD), got {raw!r}")
    return raw


# How each field is read from its text, in the order of PhotoFilter's fields (a tuple or dict:
# one of these words).
_KINDS: dict[str, Any] = {
    "start": _date,
    "end": _date,
    "estimated": ESTIMATED,
    "classes": _text,
    "match": MATCHES,
    "source": SOURCES,
    "min_score": _float,
    "min_count": _int,
    "lat": _float,
    "lon": _float,
    "radius_km": _float,
    "has_gps": HAS_GPS,
    "country": _countries,
    "region": _text,
    "place": _text,
    "camera_make": _text,
    "camera_model": _text,
    "folder": _text,
    "trip": _trip,
    "sort": SORTS,
}
# The words parse() reads and how each is read (a function, or the words of a choice), for
# callers that turn Python values into those words (atw.query.keywords).
PARAMS: Mapping[str, Any] = _KINDS


# --- filter → args, filter → words ------------------------------------------------------


# What a private export keeps to itself: where (the centre and radius, and so the nearest-first
# order around it; a country, region or place: a name is a position too), which folder, which
# camera. Private outputs name none of these values.
PRIVATE_PARAMS = (
    "lat",
    "lon",
    "radius_km",
    "country",
    "region",
    "place",
    "camera_make",
    "camera_model",
    "folder",
    "trip",
)


def withheld(flt: PhotoFilter) -> list[str]:
    """The private parameters this filter sets (their names only), in PRIVATE_PARAMS order."""
    return [name for name in PRIVATE_PARAMS if getattr(flt, name) not in (None, ())]


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
        if f.name in ("classes", "country"):
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


def describe(flt: PhotoFilter, private: bool = False, trip_name: str | None = None) -> str:
    """The filter in plain words, e.g. "beach or seashore ≥ 0.5, 1 Jun 2014 – 31 Jul 2014,
    within 20 km of Lisbon, Portugal" (the centre named by the gazetteer: placenames), "in
    Portugal". private names no place, radius, folder or camera: "within a radius of a private
    place", "in a private place", "in a private folder", "with a private camera". trip_name:
    the trip's name (atw.query.trip_store.name_of): "on the trip Japan, Oct 2014 — Tokyo"."""
    parts: list[str] = []
    if flt.classes:
        named = list(dict.fromkeys(words.name(c) for c in flt.classes))
        names = _join(named, " and " if flt.match == "all" else " or ")
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
    if flt.trip:
        parts.append("on a private trip" if private else f"on the trip {trip_name or flt.trip}")
    if not flt.estimated:
        parts.append("known capture times only")
    place = "a private place"
    if flt.centre and not private and (flt.radius_km is not None or flt.sort == "nearest"):
        place = placenames.point_words(flt.lat, flt.lon)  # type: ignore[arg-type]
    if flt.centre and flt.radius_km is not None:
        radius = "a radius" if private else f"{_num(flt.radius_km)} km"
        parts.append(f"within {radius} of {place}")
    if flt.has_gps is not None:
        parts.append("with GPS" if flt.has_gps else "without GPS")
    named = place_filter.words(flt)
    if named:
        parts.append("in a private place" if private else named)
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
