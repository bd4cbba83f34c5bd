"""Portable test data: ATW_TEST_DATA, the manifest checked against the real folder both ways,
and `scripts/test_data.py fetch` against a loopback HTTP server (sha256, refusals, resume)."""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from tests.conftest import SHARED, need_shared
from tests.shared_data import DEFAULT, MANIFEST, data_dir
from tests.test_test_policy import run_pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "test_data.py"
RAW = "https://raw.githubusercontent.com/"


def load_script() -> Any:
    spec = importlib.util.spec_from_file_location("test_data_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


td = load_script()


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], cwd=ROOT, capture_output=True, text=True
    )


# --- where the data is -----------------------------------------------------------------------


def test_the_folder_comes_from_atw_test_data_else_beside_the_project(tmp_path):
    assert data_dir({}) == DEFAULT == ROOT.parent / "shared"
    assert data_dir({"ATW_TEST_DATA": str(tmp_path)}) == tmp_path
    assert data_dir({"ATW_TEST_DATA": "  "}) == DEFAULT


def test_missing_data_fails_naming_the_folder_from_atw_test_data(tmp_path, monkeypatch):
    monkeypatch.setenv("ATW_TEST_DATA", "/nowhere/data")
    test = (
        "from tests.conftest import MODELS, SHARED, need_shared\n\n"
        "def test_needs_data():\n"
        "    assert str(SHARED) == '/nowhere/data'\n"
        "    need_shared(MODELS / 'yolov8n_int8.onnx')\n"
    )
    out = run_pytest(tmp_path, {"test_needs.py": test}, ci="true")
    assert out.returncode == 1, out.stdout
    assert "the shared test data is missing: expected it at /nowhere/data" in out.stdout
    assert "1 failed" in out.stdout


# --- the manifest against the real folder (CI: it cannot drift) -----------------------------


def test_the_shared_folder_matches_the_manifest_both_ways():
    need_shared()
    done = run("verify", "--dir", str(SHARED))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().endswith("0 problems")


def test_the_manifest_is_the_one_made_from_the_folder_and_its_data_md(tmp_path):
    need_shared(SHARED / "DATA.md")
    made = tmp_path / "manifest.csv"
    done = run("manifest", "--dir", str(SHARED), "--manifest", str(made))
    assert done.returncode == 0, done.stdout + done.stderr
    assert made.read_bytes() == MANIFEST.read_bytes(), "run: python scripts/test_data.py manifest"


def test_the_manifest_says_where_each_file_comes_from():
    entries = td.read_manifest(MANIFEST)
    kinds = {e.path: e.kind for e in entries if e.kind != "download"}
    assert kinds == {
        "models/mobilenet_v2_imagenet_from_tflite.pth": "copy-only",
        "photos/exif/INDEX.csv": "copy-only",
        "photos/imagenet-samples/labels.csv": "derived",
    }
    downloads = [e for e in entries if e.kind == "download"]
    assert len(downloads) == 673
    for e in downloads:  # raw.githubusercontent.com/<owner>/<repo>/<40-hex commit>/<path>
        _owner, _repo, commit, *path = e.url.removeprefix(RAW).split("/")
        assert e.url.startswith(RAW) and len(commit) == 40 and path and e.licence, e.path
    assert not any(e.path.startswith(("models/cache/", "hooks/")) for e in entries)


def test_labels_csv_is_rebuilt_byte_for_byte_from_the_photo_names():
    labels = SHARED / "photos" / "imagenet-samples" / "labels.csv"
    need_shared(labels)
    assert td.imagenet_labels(SHARED) == labels.read_bytes()


def test_verify_names_changed_missing_and_unlisted_files(tmp_path):
    need_shared()
    entries = [e for e in td.read_manifest(MANIFEST) if e.path.startswith("photos/coco128/l")]
    folder = tmp_path / "data"
    for e in entries:
        (folder / e.path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SHARED / e.path, folder / e.path)
    assert td.verify(folder, entries) == []
    first, second = entries[0].path, entries[1].path
    (folder / first).write_bytes((folder / first).read_bytes().replace(b"0", b"1", 1))
    (folder / second).unlink()
    (folder / "photos" / "coco128" / "labels" / "extra.txt").write_text("0 0.5 0.5 1 1\n")
    assert td.verify(folder, entries) == [
        f"differs: {first} has sha256 {td.sha256_of(folder / first)}, not {entries[0].sha256}",
        f"missing: {second} (`make test-data` downloads it)",
        "not in the manifest: photos/coco128/labels/extra.txt "
        "(python scripts/test_data.py manifest)",
    ]


# --- fetch, against a server on the loopback interface -----------------------------------------


@dataclass
class Mirror:
    """A raw.githubusercontent.com look-alike: <owner>/<repo>/<commit>/<path> → bytes."""

    files: dict[str, bytes]
    ignore_range: bool = False
    cut_after: dict[str, int] = field(default_factory=dict)  # path → bytes sent, once
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    url: str = ""


class Handler(BaseHTTPRequestHandler):
    mirror: Mirror

    def do_GET(self) -> None:
        m = self.server.mirror  # type: ignore[attr-defined]
        path = unquote(self.path.lstrip("/"))
        m.requests.append((path, self.headers.get("Range")))
        if path not in m.files:
            self.send_error(404)
            return
        data, start = m.files[path], 0
        wanted = self.headers.get("Range")
        if wanted and not m.ignore_range:
            start = int(wanted.removeprefix("bytes=").rstrip("-"))
            if start >= len(data):
                self.send_error(416)
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        cut = m.cut_after.pop(path, None)
        self.wfile.write(data[start:] if cut is None else data[start : start + cut])
        if cut is not None:
            self.close_connection = True

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def mirror() -> Iterator[Mirror]:
    m = Mirror({})
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.mirror = m  # type: ignore[attr-defined]
    m.url = f"http://127.0.0.1:{server.server_address[1]}/"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield m
    server.shutdown()
    server.server_close()


def serve(m: Mirror, entries: list[Any], source: Path = SHARED) -> None:
    for e in entries:
        if e.url:
            m.files[unquote(e.url.removeprefix(RAW))] = (source / e.path).read_bytes()


def some_entries(*paths: str) -> list[Any]:
    by_path = {e.path: e for e in td.read_manifest(MANIFEST)}
    return [by_path[p] for p in paths]


SMALL = (
    "photos/exif/broken image.JPG",  # a space in the URL
    "photos/exif/empty.jpg",  # 0 bytes
    "photos/coco128/labels/train2017/000000000009.txt",
    "models/imagenet_labels.txt",
)


def fetch_into(folder: Path, m: Mirror, entries: list[Any]) -> subprocess.CompletedProcess:
    manifest = folder.parent / "manifest.csv"
    td.write_manifest(entries, manifest)
    return run("fetch", "--dir", str(folder), "--manifest", str(manifest), "--mirror", m.url)


def test_fetch_downloads_checks_and_keeps_the_files(tmp_path, mirror):
    need_shared()
    entries = some_entries(*SMALL)
    serve(mirror, entries)
    folder = tmp_path / "data"
    done = fetch_into(folder, mirror, entries)
    assert done.returncode == 0, done.stdout + done.stderr
    for e in entries:
        assert (folder / e.path).read_bytes() == (SHARED / e.path).read_bytes()
    assert td.verify(folder, entries) == []
    assert sorted(p for p, _ in mirror.requests) == sorted(
        unquote(e.url.removeprefix(RAW)) for e in entries
    )
    # a second run finds everything in place and downloads nothing
    again = fetch_into(folder, mirror, entries)
    assert again.returncode == 0 and "0 to download; 0 problems" in again.stdout
    assert len(mirror.requests) == len(entries)


def test_fetch_refuses_a_download_whose_sha256_differs(tmp_path, mirror):
    need_shared()
    entries = some_entries(*SMALL[2:])
    serve(mirror, entries)
    bad = unquote(entries[0].url.removeprefix(RAW))
    mirror.files[bad] = mirror.files[bad].replace(b"0", b"1", 1)  # same size, other bytes
    folder = tmp_path / "data"
    done = fetch_into(folder, mirror, entries)
    assert done.returncode == 1
    wrong = hashlib.sha256(mirror.files[bad]).hexdigest()
    assert f"{entries[0].path}: refused: {mirror.url}{bad} sent sha256 {wrong}" in done.stdout
    assert not (folder / entries[0].path).exists()
    assert not (folder / (entries[0].path + ".part")).exists()
    assert (folder / entries[1].path).read_bytes() == (SHARED / entries[1].path).read_bytes()


def test_fetch_never_overwrites_a_different_file(tmp_path, mirror):
    need_shared()
    entries = some_entries(SMALL[2])
    serve(mirror, entries)
    mine = tmp_path / "data" / entries[0].path
    mine.parent.mkdir(parents=True)
    mine.write_text("my own labels\n")
    done = fetch_into(tmp_path / "data", mirror, entries)
    assert done.returncode == 1
    assert (
        f"{entries[0].path}: exists and differs from the manifest; not overwritten" in done.stdout
    )
    assert mine.read_text() == "my own labels\n" and mirror.requests == []


def test_an_interrupted_download_resumes_where_it_stopped(tmp_path, mirror):
    need_shared()
    (entry,) = some_entries("models/imagenet_labels.txt")
    serve(mirror, [entry])
    path = unquote(entry.url.removeprefix(RAW))
    mirror.cut_after[path] = 5000
    folder = tmp_path / "data"
    first = fetch_into(folder, mirror, [entry])
    assert first.returncode == 1
    assert f"{entry.path}: interrupted after 5000 of {entry.bytes} bytes" in first.stdout
    assert (folder / (entry.path + ".part")).stat().st_size == 5000
    assert not (folder / entry.path).exists()
    second = fetch_into(folder, mirror, [entry])
    assert second.returncode == 0, second.stdout
    assert mirror.requests == [(path, None), (path, "bytes=5000-")]
    assert (folder / entry.path).read_bytes() == (SHARED / entry.path).read_bytes()
    assert not (folder / (entry.path + ".part")).exists()


def test_a_server_that_ignores_the_range_gets_the_whole_file_again(tmp_path, mirror):
    need_shared()
    (entry,) = some_entries("models/imagenet_labels.txt")
    serve(mirror, [entry])
    mirror.ignore_range = True
    part = tmp_path / "data" / (entry.path + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes((SHARED / entry.path).read_bytes()[:7000])
    done = fetch_into(tmp_path / "data", mirror, [entry])
    assert done.returncode == 0, done.stdout
    assert mirror.requests[0][1] == "bytes=7000-"
    assert (tmp_path / "data" / entry.path).read_bytes() == (SHARED / entry.path).read_bytes()


@pytest.mark.slow
def test_make_test_data_rebuilds_the_whole_folder_from_a_mirror(tmp_path, mirror):
    """The whole manifest fetched from a loopback copy of GitHub's layout into an empty folder:
    every downloadable file verified, labels.csv rebuilt, and the two files that exist only as
    copies named; with those copied in, verify finds the folder complete."""
    need_shared()
    entries = td.read_manifest(MANIFEST)
    serve(mirror, entries)
    folder = tmp_path / "data"
    done = fetch_into(folder, mirror, entries)
    assert done.returncode == 1
    problems = [line for line in done.stdout.splitlines() if line.startswith("cannot")]
    assert [p.split(":")[1].strip() for p in problems] == [
        "models/mobilenet_v2_imagenet_from_tflite.pth",
        "photos/exif/INDEX.csv",
    ]
    assert done.stdout.strip().endswith("673 to download; 2 problems")
    assert (folder / "photos/imagenet-samples/labels.csv").read_bytes() == (
        SHARED / "photos/imagenet-samples/labels.csv"
    ).read_bytes()
    for e in entries:
        if e.kind == "copy-only":
            shutil.copyfile(SHARED / e.path, folder / e.path)
    assert td.verify(folder, entries) == []
