"""Folder export: the filtered photos of each class copied (or linked) into out/<class>/, with a
manifest; never inside an indexed root, never touching the originals. No Flask."""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from atw.core.fspath import printable
from atw.query import records, search, words
from atw.query.filters import PhotoFilter

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
    check_target(out, records.roots(session))
    out.mkdir(parents=True, exist_ok=True)
    manifest: list[dict[str, str]] = []
    missing: list[str] = []
    for cls in classes:
        folder = out / _safe_dir(cls)
        folder.mkdir(exist_ok=True)
        taken: set[str] = set()
        one = replace(flt, classes=(cls,), match="any", sort="oldest")
        for ids in search.iter_ids(session, one):
            for rec in records.photo_records(session, ids):
                # The stored paths themselves (rec["paths"] are for display: a name that is not
                # UTF-8 is shown escaped there, and would not be found on disk).
                files = records.photo_files(session, rec["id"])
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
    """A copy of the photo, upright, with the class's boxes drawn (a group's: every member's;
    the original is only read)."""
    from PIL import Image, ImageDraw, ImageOps

    dest.parent.mkdir(parents=True, exist_ok=True)
    with Image.open(src) as im:
        img = ImageOps.exif_transpose(im).convert("RGB")
    draw = ImageDraw.Draw(img)
    w, h = img.size
    labels = words.coco_labels(cls)
    for d in rec["detections"]:
        if d["label"] not in labels:
            continue
        x0, y0, x1, y1 = d["box"]
        draw.rectangle([x0 * w, y0 * h, x1 * w, y1 * h], outline=(255, 180, 70), width=3)
        text = f"{d['label']} {d['score']:.2f}"
        draw.text((x0 * w + 4, y0 * h + 2), text, fill=(255, 180, 70))
    img.save(dest, "JPEG", quality=90)
