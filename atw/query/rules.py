"""What makes a photo filter valid: its limits, FilterError, and the checks PhotoFilter runs."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

MATCHES = ("any", "all")
SOURCES = ("any", "imagenet", "coco")
SORTS = ("newest", "oldest", "nearest")
MAX_COUNT = 100  # min_count above this is surely a typo
# Query complexity caps: each class is a join, long strings are scanned in indexes.
MAX_CLASSES = 20
MAX_TEXT = 1000  # characters in a folder, camera make or camera model
MAX_RADIUS_KM = 20037.5  # half the Earth's circumference: the whole globe


class FilterError(ValueError):
    """An invalid filter value; `param` names the query parameter at fault. `message` names it
    too (for the API); `reason` says what is wrong without the name, for a page that shows it
    beside the field's own label ("not a date ('notadate', expected YYYY-MM-DD)").
    `suggestions`: known values close to a bad one (class words), for the API's JSON."""

    def __init__(
        self,
        param: str,
        message: str,
        reason: str | None = None,
        suggestions: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.param, self.message = param, message
        self.reason = reason or message.removeprefix(f"{param} ")
        self.suggestions = suggestions


def check(flt: Any) -> None:
    """Raise FilterError (naming the parameter) unless the filter's fields hold together."""
    if flt.start and flt.end and flt.start > flt.end:
        raise FilterError(
            "end",
            f"end ({flt.end}) is before start ({flt.start})",
            f"{flt.end} is before the start date, {flt.start}",
        )
    one_of("match", flt.match, MATCHES)
    one_of("source", flt.source, SOURCES)
    one_of("sort", flt.sort, SORTS)
    if len(flt.classes) > MAX_CLASSES:
        raise FilterError("classes", f"at most {MAX_CLASSES} classes, got {len(flt.classes)}")
    for name in ("folder", "camera_make", "camera_model"):
        value = getattr(flt, name)
        if value is not None and len(value) > MAX_TEXT:
            raise FilterError(name, f"{name} is longer than {MAX_TEXT} characters")
    if flt.min_score is not None and not 0.0 <= flt.min_score <= 1.0:
        raise FilterError("min_score", f"min_score must be between 0 and 1, got {flt.min_score}")
    if not 1 <= flt.min_count <= MAX_COUNT:
        raise FilterError("min_count", f"min_count must be 1 … {MAX_COUNT}, got {flt.min_count}")
    if flt.min_count > 1 and not flt.classes:
        raise FilterError(
            "min_count",
            "min_count needs classes (e.g. classes=person)",
            "counts objects of the classes: name a class (e.g. person)",
        )
    if flt.min_count > 1 and flt.source == "imagenet":
        raise FilterError(
            "min_count",
            "min_count counts COCO objects: use source=coco or any",
            "counts COCO objects: choose the source COCO objects or any",
        )
    for name, top in (("lat", 90), ("lon", 180)):
        value = getattr(flt, name)
        if value is not None and not -top <= value <= top:
            raise FilterError(name, f"{name} must be between -{top} and {top}, got {value}")
    if (flt.lat is None) != (flt.lon is None):
        missing = "lon" if flt.lon is None else "lat"
        raise FilterError(
            missing,
            f"{missing} is needed with {'lat' if missing == 'lon' else 'lon'}",
            "a centre needs both a latitude and a longitude",
        )
    if flt.radius_km is not None:
        if flt.lat is None:
            raise FilterError(
                "radius_km",
                "radius_km needs a centre: lat and lon",
                "needs a centre: a latitude and a longitude (or click the map)",
            )
        if not (math.isfinite(flt.radius_km) and flt.radius_km > 0):
            raise FilterError(
                "radius_km", f"radius_km must be a positive number of km, got {flt.radius_km}"
            )
        if flt.radius_km > MAX_RADIUS_KM:
            raise FilterError(
                "radius_km",
                f"radius_km must be at most {MAX_RADIUS_KM:g} (half the Earth's "
                f"circumference), got {flt.radius_km:g}",
            )
        if flt.has_gps is False:
            raise FilterError(
                "has_gps",
                "has_gps=no cannot be combined with a radius",
                "“without GPS” cannot be combined with a radius",
            )
    if flt.sort == "nearest" and flt.lat is None:
        raise FilterError(
            "sort",
            "sort=nearest needs a centre: lat and lon",
            "“nearest” needs a centre: a latitude and a longitude",
        )


def one_of(param: str, value: str, allowed: tuple[str, ...] | Mapping[str, Any]) -> None:
    if value not in allowed:
        raise FilterError(param, f"{param} must be one of {', '.join(allowed)}, got {value!r}")
