"""Tables of a filtered set: export rows, streamed as CSV or JSON. No Flask.

export_row/rows is the one data function behind the CSV, the JSON and the HTML report."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

from sqlalchemy.orm import Session

from atw.query import filters, placenames, records, search, trip_store
from atw.query.filters import PhotoFilter

TOP_LABELS = 3  # ImageNet labels kept per photo in an export row
CSV_FIELDS = [
    "id",
    "path",
    "taken_at",
    "utc_offset",
    "time_estimated",
    "lat",
    "lon",
    "country",
    "place",
    "labels",
    "detections",
]
# A place name is a position too: private outputs leave out the country and the place.
PRIVATE_FIELDS = ("lat", "lon", "altitude", "country", "place", "camera_make", "camera_model")


def export_row(rec: dict[str, Any], private: bool = False) -> dict[str, Any]:
    """One photo as an export row: path, time, offset, lat/lon, top labels, detection counts
    (and, for the report, the time-estimated flag, camera and sha256)."""
    counts = Counter(d["label"] for d in rec["detections"])
    row = {
        "id": rec["id"],
        "path": (rec["paths"] or rec["missing_paths"] or [""])[0],
        "taken_at": rec["taken_at"],
        "utc_offset": rec["utc_offset"],
        "time_estimated": rec["time_estimated"],
        "lat": rec["lat"],
        "lon": rec["lon"],
        "country": (rec.get("place") or {}).get("country"),
        "place": placenames.caption(rec),  # "Sintra, Portugal" (the town), "at sea"
        "camera_make": rec["camera_make"],
        "camera_model": rec["camera_model"],
        "sha256": rec["sha256"],
        "labels": [
            {"label": lb["label"], "score": round(lb["score"], 4)}
            for lb in rec["labels"][:TOP_LABELS]
        ],
        "detections": dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))),
    }
    if private:
        for name in PRIVATE_FIELDS:
            row.pop(name, None)
        row["path"] = file_name(row["path"])  # the folders would say where, and whose
    return row


def file_name(path: str) -> str:
    """The last part of a path (what a private export shows instead of the path)."""
    return path.rsplit("/", 1)[-1]


def header(flt: PhotoFilter, private: bool = False, trip_name: str | None = None) -> dict[str, Any]:
    """What a JSON export (and the report) says about its filter. private: the filter without
    its place, folder and camera ("withheld" names the parameters left out, not their values),
    described in words that name none of them."""
    head: dict[str, Any] = {
        "filter": filters.to_args(flt, private),
        "description": filters.describe(flt, private, trip_name),
    }
    if private:
        head["private"] = True
        head["withheld"] = filters.withheld(flt)
    return head


def rows(
    session: Session, flt: PhotoFilter, private: bool = False, chunk: int = 500
) -> Iterator[dict[str, Any]]:
    """Every photo of the filter, in its order, as export rows: the one data function behind
    the CSV, the JSON and the report (read a chunk of ids at a time)."""
    for ids in search.iter_ids(session, flt, chunk):
        for rec in records.photo_records(session, ids):
            yield export_row(rec, private)
        session.expunge_all()  # keep the identity map from growing with the set


def iter_csv(session: Session, flt: PhotoFilter, private: bool = False) -> Iterator[str]:
    """The CSV export, a few rows per chunk of text (labels "a:0.91; b:0.20", detections
    "person:3; dog:1"; time_estimated "true" when taken_at is the file's date)."""
    fields = [f for f in CSV_FIELDS if not (private and f in PRIVATE_FIELDS)]
    buf = io.StringIO()
    out = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
    out.writeheader()
    for i, row in enumerate(rows(session, flt, private)):
        row["labels"] = "; ".join(f"{lb['label']}:{lb['score']}" for lb in row["labels"])
        row["detections"] = "; ".join(f"{k}:{v}" for k, v in row["detections"].items())
        row["time_estimated"] = "true" if row["time_estimated"] else "false"
        out.writerow(row)
        if i % 200 == 199:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def iter_json(session: Session, flt: PhotoFilter, private: bool = False) -> Iterator[str]:
    """The JSON export: {"filter", "description", "photos": [row, …], "count"}, streamed
    (private: the header of header(), and rows without positions, cameras or folders)."""
    head = header(flt, private, trip_store.name_of(session, flt.trip))
    yield json.dumps(head)[:-1] + ', "photos": ['
    n = 0
    for row in rows(session, flt, private):
        yield ("," if n else "") + "\n" + json.dumps(row)
        n += 1
    yield f'\n], "count": {n}}}\n'
