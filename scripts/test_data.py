"""The test data's manifest (public sources, sha256): write it, fetch the files, verify copies.

    python scripts/test_data.py verify     check ATW_TEST_DATA (default ../shared) against
                                           tests/data/manifest.csv: every file, both ways
    python scripts/test_data.py fetch      download what is missing from its public source
                                           (sha256 checked; resumes; never overwrites a file)
    python scripts/test_data.py manifest   rewrite the manifest from the local copy + DATA.md

`make test-data` runs fetch. Options: --dir FOLDER, --manifest CSV, --only PREFIX (a part of
the folder, e.g. models/), --mirror URL (fetch: a server laid out like raw.githubusercontent.com,
<owner>/<repo>/<commit>/<path>)."""

from __future__ import annotations

import argparse
import csv
import fnmatch
import hashlib
import http.client
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(ROOT / "scripts"))

from test_data_sources import RAW, check_models, sources  # noqa: E402

from tests.shared_data import MANIFEST, data_dir  # noqa: E402

FIELDS = ("path", "bytes", "sha256", "kind", "url", "licence", "note")
# Not test data, so not in the manifest: the folder's own notes (DATA.md, …), the hooks of the
# machine it lives on, the ONNX copies atw exports into models/cache when MODELS_DIR points
# there (they depend on the torch version; the tests export theirs into temporary folders),
# and unfinished downloads.
EXCLUDED = ("*.md", "hooks/*", "models/cache/*", "*.part")
CHUNK = 1 << 16


@dataclass(frozen=True)
class Entry:
    path: str  # relative to the test data folder, with "/"
    bytes: int
    sha256: str
    kind: str  # download | derived | copy-only (scripts/test_data_sources.py)
    url: str
    licence: str
    note: str


def read_manifest(path: Path) -> list[Entry]:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    entries = [Entry(**{**r, "bytes": int(r["bytes"])}) for r in rows]
    for e in entries:
        if e.path.startswith("/") or ".." in e.path.split("/"):
            raise SystemExit(f"{path}: a path outside the folder: {e.path}")
    return entries


def write_manifest(entries: list[Entry], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.DictWriter(fh, FIELDS, lineterminator="\n")
        out.writeheader()
        out.writerows(asdict(e) for e in entries)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def local_files(folder: Path) -> list[str]:
    """Every file under the folder (relative, "/"), but the excluded ones."""
    found = (p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    return sorted(r for r in found if not any(fnmatch.fnmatch(r, x) for x in EXCLUDED))


def _matches(path: Path, e: Entry) -> bool:
    return path.stat().st_size == e.bytes and sha256_of(path) == e.sha256


def _missing(e: Entry) -> str:
    how = {"download": "`make test-data` downloads it", "derived": "`make test-data` rebuilds it"}
    return f"missing: {e.path} ({how.get(e.kind, e.note)})"


def verify(folder: Path, entries: list[Entry], only: str = "") -> list[str]:
    """What differs between the folder and the manifest, both ways (empty: all in step)."""
    problems = []
    for e in entries:
        path = folder / e.path
        if not path.is_file():
            problems.append(_missing(e))
        elif path.stat().st_size != e.bytes:
            problems.append(f"differs: {e.path} has {path.stat().st_size} bytes, not {e.bytes}")
        elif (sha := sha256_of(path)) != e.sha256:
            problems.append(f"differs: {e.path} has sha256 {sha}, not {e.sha256}")
    listed = {e.path for e in entries}
    extra = [r for r in local_files(folder) if r.startswith(only) and r not in listed]
    problems += [f"not in the manifest: {r} (python scripts/test_data.py manifest)" for r in extra]
    return problems


def download(e: Entry, dest: Path, url: str, timeout: float = 60) -> str | None:
    """Fetch one file into dest (through dest.part, resumed with a Range request when a part
    is there), keeping it only when its size and sha256 are the manifest's; None when done,
    else what went wrong."""
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    have = part.stat().st_size if part.is_file() else 0
    if have > e.bytes:
        part.unlink()
        have = 0
    if have < e.bytes or not part.is_file():
        headers = {"User-Agent": "atw-test-data"} | ({"Range": f"bytes={have}-"} if have else {})
        request = urllib.request.Request(url, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as resp:
                if have and resp.status != 206:  # the server ignored the range: start again
                    have = 0
                elif have and not resp.headers.get("Content-Range", "").startswith(
                    f"bytes {have}-"
                ):
                    return f"{e.path}: {url} answered another range than bytes={have}-"
                with part.open("ab" if have else "wb") as fh:
                    while chunk := resp.read(CHUNK):
                        have += len(chunk)
                        if have > e.bytes:
                            part.unlink()
                            return f"{e.path}: {url} sends more than the manifest's {e.bytes} bytes"
                        fh.write(chunk)
        except urllib.error.HTTPError as exc:
            if not (exc.code == 416 and have == e.bytes):
                return f"{e.path}: HTTP {exc.code} {exc.reason} from {url}"
        except (OSError, http.client.HTTPException) as exc:
            size = part.stat().st_size if part.is_file() else 0
            return (
                f"{e.path}: interrupted after {size} of {e.bytes} bytes ({exc!r}); "
                "run again to resume"
            )
    if (size := part.stat().st_size) != e.bytes:
        return f"{e.path}: interrupted after {size} of {e.bytes} bytes; run again to resume"
    if (sha := sha256_of(part)) != e.sha256:
        part.unlink()
        return f"{e.path}: refused: {url} sent sha256 {sha}, the manifest says {e.sha256}"
    return _place(part, dest, e)


def _place(tmp: Path, dest: Path, e: Entry) -> str | None:
    """Move a verified file into place, unless a file appeared there meanwhile."""
    if dest.exists():
        tmp.unlink()
        return f"{e.path}: exists and differs from the manifest; not overwritten"
    os.replace(tmp, dest)
    return None


def imagenet_labels(folder: Path) -> bytes:
    """photos/imagenet-samples/labels.csv: file, class_index (ImageNet-1k order), wnid, name."""
    vocabulary = json.loads((ROOT / "atw/core/data/vocabulary.json").read_text(encoding="utf-8"))
    index = {wnid: i for i, (_, _, wnid) in enumerate(vocabulary["imagenet"])}
    lines = ["file,class_index,wnid,name"]
    for p in sorted((folder / "photos/imagenet-samples").glob("*.JPEG")):
        wnid, _, name = p.stem.partition("_")
        lines.append(f"{p.name},{index[wnid]},{wnid},{name}")
    return "".join(f"{line}\r\n" for line in lines).encode()


DERIVED: dict[str, Callable[[Path], bytes]] = {
    "photos/imagenet-samples/labels.csv": imagenet_labels,
}


def build(folder: Path, e: Entry) -> str | None:
    """Rebuild a derived file from the files it is made of; kept only if its sha256 matches."""
    dest = folder / e.path
    try:
        data = DERIVED[e.path](folder)
    except (KeyError, OSError, ValueError) as exc:
        return f"{e.path}: cannot rebuild it ({exc!r})"
    if hashlib.sha256(data).hexdigest() != e.sha256:
        return f"{e.path}: rebuilt, but not the manifest's sha256 (are its source files all here?)"
    tmp = dest.with_name(dest.name + ".part")
    tmp.write_bytes(data)
    return _place(tmp, dest, e)


def fetch(
    folder: Path, entries: list[Entry], mirror: str = "", jobs: int = 4
) -> tuple[list[str], int]:
    """Download the missing files, then rebuild the derived ones; (problems, files fetched)."""
    problems: list[str] = []
    todo: list[Entry] = []
    for e in entries:
        path = folder / e.path
        if path.exists():
            if not _matches(path, e):
                problems.append(f"{e.path}: exists and differs from the manifest; not overwritten")
        elif e.kind == "download":
            todo.append(e)
    folder.mkdir(parents=True, exist_ok=True)

    def one(e: Entry) -> str | None:
        url = mirror.rstrip("/") + "/" + e.url.removeprefix(RAW) if mirror else e.url
        print(f"  {e.path}", file=sys.stderr)
        return download(e, folder / e.path, url)

    with ThreadPoolExecutor(max(1, jobs)) as pool:
        problems += [p for p in pool.map(one, todo) if p]
    for e in entries:
        if not (folder / e.path).exists():
            if e.kind == "derived":
                problems += [p for p in [build(folder, e)] if p]
            elif e.kind != "download":
                problems.append(f"cannot be downloaded: {e.path}: {e.note}")
    return problems, len(todo)


def make_manifest(folder: Path) -> list[Entry]:
    """The manifest of the folder as it is: every file's size and sha256, and its source."""
    rels = local_files(folder)
    sums = {r: ((folder / r).stat().st_size, sha256_of(folder / r)) for r in rels}
    if wrong := check_models(folder, sums):
        raise SystemExit("\n".join(wrong))
    found = sources(folder, rels)
    return [Entry(r, *sums[r], **{k: getattr(found[r], k) for k in FIELDS[3:]}) for r in rels]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("command", choices=("verify", "fetch", "manifest"))
    ap.add_argument("--dir", type=Path, default=None, help="default: ATW_TEST_DATA or ../shared")
    ap.add_argument("--manifest", type=Path, default=MANIFEST)
    ap.add_argument("--only", default="", help="only paths starting with this (e.g. models/)")
    ap.add_argument("--mirror", default="", help="fetch from here instead of GitHub")
    ap.add_argument("--jobs", type=int, default=4, help="downloads at the same time")
    args = ap.parse_args(argv)
    folder = (args.dir or data_dir()).absolute()
    if args.command == "manifest":
        entries = make_manifest(folder)
        write_manifest(entries, args.manifest)
        kinds = {k: sum(e.kind == k for e in entries) for k in ("download", "derived")}
        print(f"{args.manifest}: {len(entries)} files ({kinds}) from {folder}")
        return 0
    entries = [e for e in read_manifest(args.manifest) if e.path.startswith(args.only)]
    if args.command == "fetch":
        problems, fetched = fetch(folder, entries, args.mirror, args.jobs)
    else:
        if not folder.is_dir():
            print(f"no test data at {folder} (set ATW_TEST_DATA, or run make test-data)")
            return 1
        problems, fetched = verify(folder, entries, args.only), 0
    for p in problems:
        print(p)
    total = sum(e.bytes for e in entries) / 1e6
    print(
        f"{folder}: {len(entries)} files in {args.manifest.name} ({total:.1f} MB); "
        f"{fetched} to download; {len(problems)} problems"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
