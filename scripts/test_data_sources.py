"""Where each test data file comes from: DATA.md's sources (repo @ commit : path) as manifest rows.

Used by `scripts/test_data.py manifest`. Every file of the folder needs a rule here; the commits
and the models' licences are read from the folder's DATA.md, so the two cannot disagree."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

RAW = "https://raw.githubusercontent.com/"
REPO_AT = re.compile(r"([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+) @ ([0-9a-f]{40})")
IMAGENET_REPO = "EliSchwartz/imagenet-sample-images"
COCO_REPO = "lightly-ai/coco128_yolo"
COCO_LICENCE_REPO = "sprouse9/URI_CapstoneProject"
CONVERTED = "models/mobilenet_v2_imagenet_from_tflite.pth"
LABELS_CSV = "photos/imagenet-samples/labels.csv"
EXIF_INDEX = "photos/exif/INDEX.csv"
NO_COPY = (
    "a copy of the shared folder is the only source: it is not published anywhere and "
    "cannot be rebuilt byte for byte"
)


@dataclass(frozen=True)
class Source:
    kind: str  # "download", "derived" (rebuilt by fetch from other files) or "copy-only"
    url: str = ""
    licence: str = ""
    note: str = ""


class DataMd:
    """The facts scripts/test_data.py needs from DATA.md: each repo's commit, the models table
    (file → repo, path, bytes, sha256, licence) and the EXIF sources' licences."""

    def __init__(self, text: str) -> None:
        self.commits: dict[str, str] = {}
        for repo, commit in REPO_AT.findall(text):
            if self.commits.setdefault(repo, commit) != commit:
                raise SystemExit(f"DATA.md names two commits of {repo}")
        self.models: dict[str, tuple[str, str, int, str, str]] = {}
        self.sums: dict[str, tuple[int, str]] = {}  # file → (bytes, sha256) of the models tables
        self.exif_licences: dict[str, str] = {}
        repo = ""
        for line in text.splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not line.startswith("|") or len(cells) < 3:
                continue
            if re.fullmatch(r"[0-9a-f]{64}", cells[2]):
                self.sums[cells[0]] = (int(cells[1].replace(",", "")), cells[2])
            if len(cells) == 5 and re.fullmatch(r"[0-9a-f]{64}", cells[2]):
                found = REPO_AT.search(cells[3])
                repo = found.group(1) if found else repo  # "same repo/commit"
                path = re.search(r"`([^`]+)`", cells[3])
                if path is None or not repo:
                    raise SystemExit(f"DATA.md: cannot read the source of {cells[0]}")
                size = int(cells[1].replace(",", ""))
                self.models[cells[0]] = (repo, path.group(1), size, cells[2], cells[4])
            elif len(cells) == 3 and (found := REPO_AT.match(cells[0])):
                self.exif_licences[found.group(1)] = cells[2]

    def url(self, repo: str, path: str) -> str:
        if repo not in self.commits:
            raise SystemExit(f"DATA.md names no commit of {repo}")
        return f"{RAW}{repo}/{self.commits[repo]}/{quote(path, safe='/')}"


def exif_rows(folder: Path) -> dict[str, tuple[str, str]]:
    """photos/exif/INDEX.csv: file name → (source repo, path in that repo)."""
    with (folder / EXIF_INDEX).open(newline="", encoding="utf-8") as fh:
        return {r["file"]: (r["source_repo"], r["source_path"]) for r in csv.DictReader(fh)}


def sources(folder: Path, rel_paths: list[str]) -> dict[str, Source]:
    """The source of every path (relative, posix) of the test data folder; SystemExit naming
    the files no rule covers."""
    md = DataMd((folder / "DATA.md").read_text(encoding="utf-8"))
    exif = exif_rows(folder)
    out: dict[str, Source] = {}
    unknown: list[str] = []
    for rel in rel_paths:
        folder_name, _, name = rel.rpartition("/")
        if folder_name == "models" and name in md.models:
            repo, path, _, _, licence = md.models[name]
            out[rel] = Source("download", md.url(repo, path), licence)
        elif rel == CONVERTED:
            out[rel] = Source(
                "copy-only",
                licence="derived from mobilenet_v2_1.0_224_quant.tflite (Apache-2.0)",
                note="converted from the TFLite model as DATA.md describes ('How it was made'); "
                + NO_COPY,
            )
        elif rel == LABELS_CSV:
            out[rel] = Source(
                "derived",
                licence="made here from the file names",
                note="rebuilt by fetch from the JPEG names (<wnid>_<name>.JPEG) and the "
                "ImageNet class order of atw/core/data/vocabulary.json",
            )
        elif folder_name == "photos/imagenet-samples" and name.endswith(".JPEG"):
            licence = "the repo states no licence; ImageNet images"
            out[rel] = Source("download", md.url(IMAGENET_REPO, name), licence)
        elif folder_name == "photos/coco128/images/train2017":
            licence = "COCO images (Flickr) under COCO's terms; the repo has no licence file"
            out[rel] = Source("download", md.url(COCO_REPO, f"images/train2017/{name}"), licence)
        elif folder_name == "photos/coco128/labels/train2017":
            path = f"object_detection/labels/train2017/{name}"
            licence = "Ultralytics coco128 labels, GPL-3.0 (photos/coco128/LICENSE)"
            out[rel] = Source("download", md.url(COCO_REPO, path), licence)
        elif rel == "photos/coco128/LICENSE":
            url = md.url(COCO_LICENCE_REPO, "datasets/coco128/LICENSE")
            out[rel] = Source("download", url, "GPL-3.0 text shipped in Ultralytics' coco128.zip")
        elif rel == EXIF_INDEX:
            out[rel] = Source(
                "copy-only",
                licence="made here (DATA.md)",
                note="written with Pillow + pillow-heif when the folder was put together; "
                "the tests do not read it (this manifest keeps each photo's source); " + NO_COPY,
            )
        elif folder_name == "photos/exif" and name in exif:
            repo, path = exif[name]
            if repo not in md.exif_licences:
                raise SystemExit(f"DATA.md's EXIF table does not list {repo} (for {rel})")
            out[rel] = Source("download", md.url(repo, path), md.exif_licences[repo])
        else:
            unknown.append(rel)
    if unknown:
        raise SystemExit(
            "no known source for: " + ", ".join(unknown) + "\n(add it to DATA.md and a rule "
            "to scripts/test_data_sources.py, or exclude it in scripts/test_data.py)"
        )
    return out


def check_models(folder: Path, sums: dict[str, tuple[int, str]]) -> list[str]:
    """Where DATA.md's bytes and sha256 of a model disagree with the local file."""
    md = DataMd((folder / "DATA.md").read_text(encoding="utf-8"))
    out = []
    for name, (size, sha) in md.sums.items():
        got = sums.get(f"models/{name}")
        if got is not None and got != (size, sha):
            out.append(f"models/{name}: DATA.md says {size} bytes, sha256 {sha}; found {got}")
    return out
