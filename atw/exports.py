"""Exports of a filtered set: streamed CSV/JSON rows and per-class folders. No Flask.

export_row/rows is the one data function behind the CSV, the JSON and the HTML report."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from atw import filters, query, timeline
from atw.filters import PhotoFilter
from atw.models import printable

TOP_LABELS = 3  # ImageNet labels kept per photo in an export row
CSV_FIELDS = ["id", "path", "taken_at", "utc_offset", "lat", "lon", "labels", "detections"]
PRIVATE_FIELDS = ("lat", "lon", "altitude", "camera_make", "camera_model")


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


def header(flt: PhotoFilter, private: bool = False) -> dict[str, Any]:
    """What a JSON export (and the report) says about its filter. private: the filter without
    its place, folder and camera ("withheld" names the parameters left out, not their values),
    described in words that name none of them."""
    head: dict[str, Any] = {
        "filter": filters.to_args(flt, private),
        "description": filters.describe(flt, private),
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
    for ids in timeline.iter_ids(session, flt, chunk):
        for rec in query.photo_records(session, ids):
            yield export_row(rec, private)
        session.expunge_all()  # keep the identity map from growing with the set


def iter_csv(session: Session, flt: PhotoFilter, private: bool = False) -> Iterator[str]:
    """The CSV export, a few rows per chunk of text (labels "a:0.91; b:0.20", detections
    "person:3; dog:1")."""
    fields = [f for f in CSV_FIELDS if not (private and f in PRIVATE_FIELDS)]
    buf = io.StringIO()
    out = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
    out.writeheader()
    for i, row in enumerate(rows(session, flt, private)):
        row["labels"] = "; ".join(f"{lb['label']}:{lb['score']}" for lb in row["labels"])
        row["detections"] = "; ".join(f"{k}:{v}" for k, v in row["detections"].items())
        out.writerow(row)
        if i % 200 == 199:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def iter_json(session: Session, flt: PhotoFilter, private: bool = False) -> Iterator[str]:
    """The JSON export: {"filter", "description", "photos": [row, …], "count"}, streamed
    (private: the header of header(), and rows without positions, cameras or folders)."""
    head = header(flt, private)
    yield json.dumps(head)[:-1] + ', "photos": ['
    n = 0
    for row in rows(session, flt, private):
        yield ("," if n else "") + "\n" + json.dumps(row)
        n += 1
    yield f'\n], "count": {n}}}\n'


# --- per-class folders -----------------------------------------------------------------------

MODES = ("copy", "hardlink", "symlink")


class ExportRefused(ValueError):
    """The folder export would write somewhere it must not (inside an indexed photo root)."""


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def check_target(out: Path, roots: list[str]) -> None:
    """Refuse an output folder inside (or equal to) an indexed photo root."""
    real = Path(os.path.realpath(out))
    for root in roots:
        r = Path(os.path.realpath(root))
        if _inside(real, r) or (r.is_file() and _inside(real, r.parent)):
            raise ExportRefused(f"refusing to write into {out}: inside the indexed root {root}")


def _free_name(folder: Path, name: str, taken: set[str]) -> str:
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    candidate, i = name, 1
    while candidate in taken or (folder / candidate).exists() or (folder / candidate).is_symlink():
        i += 1
        candidate = f"{stem}-{i}.{ext}" if dot else f"{stem}-{i}"
    taken.add(candidate)
    return candidate


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def export_folders(
    session: Session,
    flt: PhotoFilter,
    classes: list[str],
    out: Path,
    mode: str = "copy",
    annotate: bool = False,
) -> dict[str, Any]:
    """Put each photo of the filter with one of `classes` into out/<class>/ (a photo with two of
    them into both), by copy, hard link or symlink; never touches the originals. Name clashes
    become name-2.jpg, name-3.jpg…; out/manifest.csv lists class, source, written path, sha256.
    With annotate, out/<class>-annotated/ gets copies with the class's boxes drawn."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}")
    if not classes:
        raise ValueError("give at least one class")
    check_target(out, timeline.roots(session))
    out.mkdir(parents=True, exist_ok=True)
    manifest: list[dict[str, str]] = []
    missing: list[str] = []
    for cls in classes:
        folder = out / _safe_dir(cls)
        folder.mkdir(exist_ok=True)
        taken: set[str] = set()
        one = replace(flt, classes=(cls,), match="any", sort="oldest")
        for ids in timeline.iter_ids(session, one):
            for rec in query.photo_records(session, ids):
                # The stored paths themselves (rec["paths"] are for display: a name that is not
                # UTF-8 is shown escaped there, and would not be found on disk).
                files = query.photo_files(session, rec["id"])
                stored = [p for p, _root in files[1]] if files else []
                src = next((Path(p) for p in stored if Path(p).is_file()), None)
                if src is None:
                    missing.append(rec["file_name"])
                    continue
                dest = folder / _free_name(folder, src.name, taken)
                _place(src, dest, mode)
                manifest.append(
                    {
                        "class": cls,
                        "source": printable(str(src)),
                        "written": printable(str(dest)),
                        "sha256": _sha256(dest),
                    }
                )
                if annotate:
                    _annotate(src, rec, cls, out / f"{_safe_dir(cls)}-annotated" / dest.name)
    with open(out / "manifest.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["class", "source", "written", "sha256"])
        w.writeheader()
        w.writerows(manifest)
    return {"written": len(manifest), "missing": missing, "manifest": str(out / "manifest.csv")}


def _safe_dir(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in " -_." else "_" for c in name).strip(" .")
    return cleaned or "_"


def _place(src: Path, dest: Path, mode: str) -> None:
    if mode == "copy":
        shutil.copy2(src, dest)
    elif mode == "hardlink":
        os.link(src, dest)
    else:
        os.symlink(os.path.realpath(src), dest)


def _annotate(src: Path, rec: dict[str, Any], cls: str, dest: Path) -> None:
    """A copy of the photo, upright, with the class's boxes drawn (the original is only read)."""
    from PIL import Image, ImageDraw, ImageOps

    dest.parent.mkdir(parents=True, exist_ok=True)
    with Image.open(src) as im:
        img = ImageOps.exif_transpose(im).convert("RGB")
    draw = ImageDraw.Draw(img)
    w, h = img.size
    for d in rec["detections"]:
        if d["label"] != cls:
            continue
        x0, y0, x1, y1 = d["box"]
        draw.rectangle([x0 * w, y0 * h, x1 * w, y1 * h], outline=(255, 180, 70), width=3)
        draw.text((x0 * w + 4, y0 * h + 2), f"{cls} {d['score']:.2f}", fill=(255, 180, 70))
    img.save(dest, "JPEG", quality=90)
