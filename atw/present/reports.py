"""The self-contained HTML report of a filtered set, built as bytes. No Flask.

Charts, an offline map and a table with embedded thumbnails; the view and the CLI only send or
write the bytes."""

from __future__ import annotations

import base64
import io
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, select_autoescape
from PIL import Image
from sqlalchemy.orm import Session

from atw.core import media
from atw.core.clock import utcnow
from atw.present import charts, tables, worldmap
from atw.query import filters, place_counts, placenames, search, trip_store
from atw.query.filters import PhotoFilter

THUMB_PX = 96  # embedded thumbnails: long side at most this many pixels …
THUMB_QUALITY = 60  # … re-encoded as JPEG at this quality (≈2–4 kB each)
PAGE_ROWS = 100  # table rows per page in the report (client-side pagination)
MAP_DOTS = 20_000  # at most this many dots on the map
PLACES_LISTED = 50  # places (towns) listed with their counts, most photos first
MAP_LABELS = 12  # places named on the map (those that do not overlap a larger one's label)
# A map label's size in units of the whole map (its 7-unit font): width per character, the gap
# between the point and the text, height above the point.
LABEL_CHAR, LABEL_GAP, LABEL_HEIGHT = 4.2, 4.0, 9.0
PLOTLY_JS = Path(charts.go.__file__).resolve().parents[1] / "package_data" / "plotly.min.js"

_env = Environment(loader=PackageLoader("atw", "templates"), autoescape=select_autoescape())


def plotly_js() -> Path:
    """The plotly.js bundle shipped inside the installed plotly package."""
    return PLOTLY_JS


def small_thumb(path: Path, px: int = THUMB_PX) -> str | None:
    """A data: URI of the thumbnail scaled to at most px on its long side (None if absent)."""
    try:
        with Image.open(path) as im:
            im.draft("RGB", (px, px))
            im = im.convert("RGB")
            im.thumbnail((px, px))
            buf = io.BytesIO()
            im.save(buf, "JPEG", quality=THUMB_QUALITY)
    except (OSError, ValueError):
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _json_script(value: Any) -> str:
    """JSON safe inside a <script type="application/json"> element."""
    return (
        json.dumps(value, separators=(",", ":"))
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
    )


def reopen_url(base_url: str, flt: PhotoFilter, private: bool = False) -> str | None:
    """The dashboard URL showing this filter. A private report has none when the filter sets a
    place, folder or camera (a link without them would show other photos)."""
    if private and filters.withheld(flt):
        return None
    args = filters.to_args(flt)
    return base_url.rstrip("/") + "/" + ("?" + urlencode(args) if args else "")


def build_report(
    session: Session,
    flt: PhotoFilter,
    thumbs_dir: str | Path,
    base_url: str = "http://127.0.0.1:5000",
    private: bool = False,
    thumb_px: int = THUMB_PX,
) -> bytes:
    """The report as one HTML document that opens offline. private drops GPS and camera
    details and folders (no map, no coordinates, no bounding area, file names only), every
    place name (no countries or places listed or charted: a name is a position) and names no
    place, radius, folder or camera of the filter (its words, no re-open link)."""
    table = list(tables.rows(session, flt, private))
    with ThreadPoolExecutor(max_workers=2) as pool:  # decoding/encoding release the GIL
        thumbs = pool.map(
            lambda r: small_thumb(media.thumb_path(thumbs_dir, r["sha256"]), thumb_px), table
        )
        for row, thumb in zip(table, thumbs, strict=True):
            row["thumb"] = thumb
            row["file"] = tables.file_name(row["path"])
            row.pop("sha256", None)
    d = charts.chart_data(session, flt)  # photos with estimated dates left out of the charts
    figs = charts.figures(d)
    dots: list[tuple[float, float]] = []
    if not private:
        dots = [worldmap.xy(r["lat"], r["lon"]) for r in table if r.get("lat") is not None][
            :MAP_DOTS
        ]
    view = worldmap.frame(dots)  # the map shows where the photos are
    places: dict[str, Any] | None = None
    labels: list[tuple[float, float, str, str]] = []
    if private:  # countries and places are positions: none in a private report
        figs.pop("countries_over_time", None)
        figs.pop("photos_per_country", None)
    else:
        places = place_counts.place_counts(session, flt)
        labels = map_labels(places["places"], view)
        places["places"] = places["places"][:PLACES_LISTED]
    dates = (d["days"][0], d["days"][-1]) if d["days"] else None
    span = search.bounds(session, flt)
    top = [(t["label"], t["photos"]) for t in d["top"][:10]]
    html = _env.get_template("report.html").render(
        description=filters.describe(flt, private, trip_store.name_of(session, flt.trip)),
        reopen=reopen_url(base_url, flt, private),
        generated=utcnow().strftime("%Y-%m-%d %H:%M UTC"),
        total=len(table),
        span=span,
        dates=dates,
        estimated=d["estimated"],
        private=private,
        top=top,
        figures=_json_script(figs),
        rows=_json_script(table),
        page_rows=PAGE_ROWS,
        thumb_px=thumb_px,
        plotly_js=plotly_js().read_text(encoding="utf-8").replace("</script", "<\\/script"),
        land=worldmap.land_path(),
        coast=worldmap.coast_path(),
        view=" ".join(f"{v:.1f}" for v in view),
        scale=view[2] / worldmap.WIDTH,  # map units per unit of the whole map: sizes below
        dots=dots,
        map_dots=MAP_DOTS,
        places=places,
        labels=labels,
    )
    return html.encode("utf-8")


def map_labels(
    towns: list[dict[str, Any]], view: tuple[float, float, float, float] | None = None
) -> list[tuple[float, float, str, str]]:
    """Where the map names the most photographed places: (x, y, "Lisbon · 12", anchor) at each
    town's point inside the map's view (worldmap.frame; the whole map by default), at most
    MAP_LABELS; a label that would overlap one already placed is left out, one that would
    leave the view on the right is drawn to the left of its point (anchor "end")."""
    vx, vy, vw, vh = view or (0.0, 0.0, float(worldmap.WIDTH), float(worldmap.HEIGHT))
    k = vw / worldmap.WIDTH  # label sizes scale with the view: the same size on the page
    out: list[tuple[float, float, str, str]] = []
    boxes: list[tuple[float, float, float, float]] = []
    for pl in towns:
        name, lat, lon = placenames.town((pl["country_code"], pl["region"], pl["name"]))
        if lat is None or lon is None:
            continue
        x, y = worldmap.xy(lat, lon)
        if not (vx <= x <= vx + vw and vy <= y <= vy + vh):
            continue
        text = f"{name} · {pl['photos']:,}"
        width = (LABEL_CHAR * len(text) + LABEL_GAP) * k
        anchor = "end" if x + width > vx + vw else "start"
        left = x - width if anchor == "end" else x
        box = (left, y - LABEL_HEIGHT * k, left + width, y + 2 * k)
        if any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in boxes):
            continue
        boxes.append(box)
        out.append((x, y, text, anchor))
        if len(out) == MAP_LABELS:
            break
    return out
