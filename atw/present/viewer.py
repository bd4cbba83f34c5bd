"""The viewer's words: a photo's facts as a person reads them (dates, exposure, sizes) and its
objects grouped by class. Data in, text out; no Flask."""

from __future__ import annotations

from datetime import datetime
from typing import Any

# EXIF orientation → how the file's pixels are stored, and what the viewer did to show them upright.
ORIENTATION = {
    2: "stored mirrored: shown flipped back left to right",
    3: "stored upside down: shown turned 180°",
    4: "stored mirrored upside down: shown flipped back top to bottom",
    5: "stored sideways and mirrored: shown upright",
    6: "stored sideways: shown turned 90° clockwise",
    7: "stored sideways and mirrored: shown upright",
    8: "stored sideways: shown turned 90° anticlockwise",
}
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def taken_words(taken_at: str | None, utc_offset: str | None, time_zone: str | None = None) -> str:
    """ "Saturday 3 May 2014, 14:05 (UTC+01:00, Europe/Lisbon)" from an ISO local time, its
    offset and the time zone at the photo's position (a nautical Etc/… zone is not named: its
    sign reads backwards); seconds only when they are not :00; "unknown" without a time."""
    if not taken_at:
        return "unknown"
    t = datetime.fromisoformat(taken_at)
    clock = f"{t:%H:%M}" + (f":{t:%S}" if t.second else "")
    text = f"{DAYS[t.weekday()]} {t.day} {MONTHS[t.month - 1]} {t.year}, {clock}"
    zone = time_zone if time_zone and not time_zone.startswith("Etc/") else None
    where = ", ".join(w for w in (f"UTC{utc_offset}" if utc_offset else None, zone) if w)
    return text + (f" ({where})" if where else "")


def megabytes(n: int) -> str:
    """Bytes as MB, to two significant figures below 10 MB: 157,382 → "0.16 MB"."""
    mb = n / 1_000_000
    if mb >= 10:
        return f"{mb:.0f} MB"
    return f"{mb:.2g} MB" if mb >= 0.01 else "< 0.01 MB"


def _num(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def exposure_words(exif: dict[str, Any]) -> str | None:
    """ "1/250 s · f/2.8 · ISO 200 · 35 mm (52 mm in 35 mm terms)"; None when nothing is known."""
    parts = []
    if exif.get("exposure_time"):
        parts.append(f"{exif['exposure_time']} s")
    if exif.get("f_number"):
        parts.append(f"f/{_num(float(exif['f_number']))}")
    if exif.get("iso"):
        parts.append(f"ISO {exif['iso']}")
    focal, full = exif.get("focal_length_mm"), exif.get("focal_length_35mm")
    if focal:
        lens = f"{_num(float(focal))} mm"
        if full and round(float(full)) != round(float(focal)):
            lens += f" ({full} mm in 35 mm terms)"
        parts.append(lens)
    elif full:
        parts.append(f"{full} mm in 35 mm terms")
    return " · ".join(parts) or None


def facts(rec: dict[str, Any]) -> list[tuple[str, str]]:
    """The photo's details, in order, as (term, words): camera, lens, exposure, software,
    size, orientation, position. Only what is known; every value in words, none raw."""
    exif = dict(rec.get("exif") or {})
    rows: list[tuple[str, str]] = []
    camera = " ".join(c for c in (rec.get("camera_make"), rec.get("camera_model")) if c)
    if camera:
        rows.append(("Camera", camera))
    lens = " ".join(str(exif[k]) for k in ("lens_make", "lens") if exif.get(k))
    if lens:
        rows.append(("Lens", lens))
    exposure = exposure_words(exif)
    if exposure:
        rows.append(("Exposure", exposure))
    if exif.get("software"):
        rows.append(("Software", str(exif["software"])))
    size = []
    if rec.get("width") and rec.get("height"):
        w, h = rec["width"], rec["height"]
        mp = w * h / 1e6
        size.append(f"{w:,} × {h:,} px" + (f" ({_num(mp)} MP)" if mp >= 1 else ""))
    if rec.get("bytes"):
        size.append(megabytes(int(rec["bytes"])))
    if rec.get("format"):
        size.append(str(rec["format"]))
    if size:
        rows.append(("Size", ", ".join(size)))
    turned = ORIENTATION.get(rec.get("orientation") or 1)
    if turned:
        rows.append(("Orientation", turned))
    if rec.get("lat") is not None and rec.get("lon") is not None:
        lat, lon = rec["lat"], rec["lon"]
        ns, ew = "N" if lat >= 0 else "S", "E" if lon >= 0 else "W"
        where = f"{abs(lat):.5f}° {ns}, {abs(lon):.5f}° {ew}"
        if rec.get("altitude") is not None:
            where += f", {rec['altitude']:,.0f} m above sea level"
        rows.append(("Position", where))
    return rows


def object_groups(detections: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The detections grouped by class: [{label, count, low, high, boxes}], most boxes first
    (then the best score); boxes keep their scores, highest first, and their index in
    `detections` (the box they are) ("person × 12, 0.31–0.92")."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for i, d in enumerate(detections):
        groups.setdefault(d["label"], []).append({**d, "index": i})
    out = []
    for label, items in groups.items():
        items = sorted(items, key=lambda d: -d["score"])
        out.append(
            {
                "label": label,
                "count": len(items),
                "low": items[-1]["score"],
                "high": items[0]["score"],
                "boxes": items,
            }
        )
    out.sort(key=lambda g: (-g["count"], -g["high"], g["label"]))
    return out
