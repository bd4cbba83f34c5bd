"""Archive: the index as pandas DataFrames (photos, labels, boxes, classes, classes per period),
read-only, through the query layer the pages and the API use; no Flask."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from atw.core import media
from atw.core.settings import DEFAULTS
from atw.notebook import frames
from atw.notebook.opening import locate, open_index
from atw.present import charts
from atw.query import bulk, keywords, records, search
from atw.query.filters import PhotoFilter
from atw.query.filters import describe as describe_filter

if TYPE_CHECKING:  # for the type checker only: no pandas or PIL at import time
    import pandas as pd
    from PIL.Image import Image

DISPLAY_SIZE = 1600  # long side of an original shown by image(), px


class Archive:
    """A photo archive indexed by atw, read as DataFrames.

    `Archive("instance")`: an instance folder (its settings say where the database is, by
    default <instance>/atw.sqlite); `Archive("path/to/atw.sqlite")`: an index file;
    `Archive("postgresql+psycopg://…")`: a SQLAlchemy URL; `Archive()`: ATW_INSTANCE_PATH, else
    ./instance. A SQLite index is opened read-only; an index this atw cannot read (an older or
    newer schema) is refused with the command that fixes it.

    Every method takes the filter words of the web (the query string of /api/photos, README
    "The archive in a notebook"): start, end, classes, match ("any"/"all"), source, min_score,
    min_count, lat, lon, radius_km, has_gps, camera_make, camera_model, folder, estimated,
    sort, and any word atw.query.filters.parse reads. Values are text or Python's own: dates,
    numbers, booleans, lists (keywords.to_args). A bad value or an unknown word raises
    atw.query.rules.FilterError naming it, as the API's 400 does.

    Rows are read `chunk` photos at a time (the filter's ids in its order, streamed from one
    statement; then one statement per table: atw.query.bulk), all in one read transaction: one
    snapshot."""

    def __init__(self, where: str | os.PathLike[str] | None = None, *, chunk: int = 2000) -> None:
        if chunk < 1:
            raise ValueError(f"chunk must be at least 1, got {chunk}")
        url, self.instance = locate(where)
        self.url = make_url(url).render_as_string(hide_password=True)
        self.engine = open_index(url)
        self.chunk = chunk

    def __repr__(self) -> str:
        return f"Archive({self.url!r})"

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session on the index (one read transaction until the block ends)."""
        with Session(self.engine) as session:
            yield session

    # --- the filter -------------------------------------------------------------------------

    def filter(self, **filters: Any) -> PhotoFilter:
        """The PhotoFilter these words make (what every method below applies)."""
        return keywords.filter_of(filters)

    def describe(self, **filters: Any) -> str:
        """The filter in plain words, as the dashboard says it."""
        return describe_filter(self.filter(**filters))

    def count(self, **filters: Any) -> int:
        """How many photos match: the total of /api/photos for the same words."""
        flt = self.filter(**filters)
        with self.session() as s:
            return search.search(s, flt, 1, 1).total

    # --- the tables -------------------------------------------------------------------------

    def photos(self, **filters: Any) -> pd.DataFrame:
        """One row per matching photo, in the filter's order (newest first unless sort says
        otherwise): id, local capture time (taken_at, naive: the photo's clock), UTC instant
        (taken_at_utc), utc_offset and offset_source, time_zone, time_estimated, lat, lon,
        altitude, the place (country_code, country, region, place, place_km, at_sea, near),
        camera, size, format, bytes, source, damaged, sha256; path (the first on disk, else
        the first missing one) and missing; top_label/top_score (the best label); objects
        (the COCO classes boxed, best box first) and boxes. With a centre (lat/lon):
        distance_km. Columns of a schema revision this index lacks are left out."""
        flt = self.filter(**filters)
        with self.session() as s:
            columns = bulk.photo_columns()
            rows = [r for ids in self._ids(s, flt) for r in bulk.photo_rows(s, ids).rows]
        df = frames.table(columns, rows)
        if flt.lat is not None and flt.lon is not None:
            df = frames.add_distance(df, flt.lat, flt.lon)
        return df

    def labels(self, **filters: Any) -> pd.DataFrame:
        """Long form, one row per stored label of the matching photos: photo_id, source,
        label, score, model, weights_id (photos in the filter's order, each best first; all
        of a photo's labels, as /api/photos lists them, whatever min_score says)."""
        flt = self.filter(**filters)
        with self.session() as s:
            rows = [r for ids in self._ids(s, flt) for r in bulk.label_rows(s, ids).rows]
        return frames.table(bulk.LABEL_COLUMNS, rows)

    def detections(self, **filters: Any) -> pd.DataFrame:
        """Long form, one row per stored box of the matching photos: photo_id, source
        ("coco"), label, score, x0, y0, x1, y1 (fractions of the upright image's width and
        height), model, weights_id (photos in the filter's order, each best box first)."""
        flt = self.filter(**filters)
        with self.session() as s:
            rows = [r for ids in self._ids(s, flt) for r in bulk.detection_rows(s, ids).rows]
        return frames.table(bulk.DETECTION_COLUMNS, rows)

    def classes(self, **filters: Any) -> pd.DataFrame:
        """label, source, photos: each class in the matching photos and how many photos it
        alone would select under the filter's source, min_score and min_count, most photos
        first (/api/classes for the same words)."""
        flt = self.filter(**filters)
        with self.session() as s:
            found = search.class_counts(s, flt)
        return frames.table(
            ("label", "source", "photos"),
            [(r["label"], r["source"], r["photos"]) for r in found],
        )

    def per_period(
        self,
        period: str | None = None,
        show: list[str] | None = None,
        with_estimated: bool = False,
        by: str = "categories",
        **filters: Any,
    ) -> pd.DataFrame:
        """Long form, the dashboard's "classes over time" (/charts.json): period (its first
        day), label, photos, one row per shown class and period, zeros included. period: day,
        week, month or year (None: chosen from the span, as the dashboard does); show: the
        classes (default: the filter's, else by `by`: the top-level categories, a photo in two
        counted in both, or "classes", the top ones). Photos with only an estimated time are
        left out unless with_estimated."""
        flt = self.filter(**filters)
        with self.session() as s:
            data = charts.chart_data(s, flt, period, show, with_estimated, by)
        starts = [frames.pandas().Timestamp(p) for p in data["periods"]]
        rows = [
            (start, label, n)
            for label in data["shown"]
            for start, n in zip(starts, data["classes"][label]["per_period"], strict=True)
        ]
        return frames.table(("period", "label", "photos"), rows)

    # --- one photo --------------------------------------------------------------------------

    def record(self, photo_id: int) -> dict[str, Any]:
        """A photo's full record, as /api/photos/<id> gives it (paths, EXIF, labels, boxes,
        place). KeyError for an unknown id."""
        with self.session() as s:
            rec = records.photo_record(s, photo_id)
        if rec is None:
            raise KeyError(f"no photo with id {photo_id}")
        return rec

    def image(self, photo_id: int, original: bool = False) -> Image:
        """The photo upright, as a PIL image: its thumbnail from the instance folder, or (with
        original=True, or when there is no thumbnail) the original file on disk scaled to
        DISPLAY_SIZE. Boxes (detections) are fractions of this image's width and height.
        KeyError for an unknown id; FileNotFoundError when neither can be read."""
        from PIL import Image

        with self.session() as s:
            found = records.photo_files(s, photo_id)
        if found is None:
            raise KeyError(f"no photo with id {photo_id}")
        sha, paths = found
        if not original and self.instance is not None:
            thumb = media.thumb_path(self.instance / "thumbs", sha)
            if thumb.is_file():
                with Image.open(thumb) as img:
                    return img.convert("RGB")
        for path, _root in paths:
            if Path(path).is_file():
                data = media.display_bytes(path, DISPLAY_SIZE, DEFAULTS["MAX_IMAGE_PIXELS"])
                return Image.open(BytesIO(data)).convert("RGB")
        raise FileNotFoundError(f"photo {photo_id}: no thumbnail and no original on disk")

    def _ids(self, session: Session, flt: PhotoFilter) -> Iterator[list[int]]:
        return bulk.ids_in_order(session, flt, self.chunk)
