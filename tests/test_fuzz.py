"""Hostile files: mutated EXIF, JPEG markers, PNG chunks and container headers of real photos;
every case is indexed or quarantined with a reason, without a crash, a hang or a memory blow-up."""

from __future__ import annotations

import json
import math
import os
import signal
import sqlite3
import struct
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from atw.core.engine import create_schema, make_engine
from pipelines.worker import Result, Task, Worker, WorkerConfig
from pipelines.writer import Writer
from tests import fuzzfiles as ff
from tests.conftest import index, need_shared

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [
    pytest.mark.slow,  # thousands of cases and whole index runs: `make test` runs them
    pytest.mark.filterwarnings("ignore::UserWarning"),  # Pillow on corrupt EXIF
]
# Cases per fuzz test; more by hand: ATW_FUZZ_EXAMPLES=20000 pytest tests/test_fuzz.py
EXAMPLES = int(os.environ.get("ATW_FUZZ_EXAMPLES", "1000"))
CASE_SECONDS = 20  # a single file taking longer than this in-process is a hang
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=os.environ.get("ATW_FUZZ_RANDOM", "") == "",
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
STATS: Counter[str] = Counter()
REASONS: Counter[str] = Counter()


class Harness:
    """A Worker run in-process on each mutated file, and a Writer recording the results."""

    def __init__(self, tmp: Path) -> None:
        tmp.mkdir(parents=True, exist_ok=True)
        self.dir = tmp
        url = f"sqlite:///{tmp / 'fuzz.sqlite'}"
        self.engine = make_engine(url)
        create_schema(self.engine)
        self.session = Session(self.engine)
        self.worker = Worker(
            WorkerConfig(
                database_url=url,
                thumbs_dir=str(tmp / "thumbs"),
                thumb_size=64,
                thumb_quality=70,
                max_pixels=20_000_000,
                max_file_bytes=50_000_000,
            )
        )
        self.writer = Writer(self.session, run_id=None)  # type: ignore[arg-type]
        self.n = 0

    def check(self, data: bytes, suffix: str) -> Result:
        self.n += 1
        path = self.dir / f"case{self.n % 50}{suffix}"
        path.write_bytes(data)
        st_ = path.stat()
        task = Task(str(path), str(self.dir), st_.st_size, st_.st_mtime_ns)
        signal.alarm(CASE_SECONDS)
        t0 = time.monotonic()
        try:
            res = self.worker(task)
        finally:
            signal.alarm(0)
        assert time.monotonic() - t0 < CASE_SECONDS
        assert res.kind in ("photo", "known", "error"), res.kind  # known: same bytes again
        if res.kind == "error":
            assert res.reason and res.reason.strip()
            STATS["quarantined"] += 1
            REASONS[res.reason.split(":")[0][:40]] += 1
        elif res.kind == "photo":
            check_facts(res)
            STATS["indexed"] += 1
            if res.facts is not None and res.facts.damage:  # partly decodes: indexed, damaged
                STATS["damaged"] += 1
        # The writer takes every result (an unwritable value would be quarantined as "could not
        # be recorded", which is a bug here).
        self.writer.write_batch([res])
        with self.engine.connect() as con:
            from sqlalchemy import text

            bad = con.execute(
                text("SELECT reason FROM quarantine WHERE reason LIKE 'could not be recorded%'")
            ).all()
        assert bad == [], bad
        path.unlink()
        return res


def check_facts(res: Result) -> None:
    f = res.facts
    assert f is not None and f.width > 0 and f.height > 0
    assert f.lat is None or (-90 <= f.lat <= 90 and math.isfinite(f.lat))
    assert f.lon is None or (-180 <= f.lon <= 180 and math.isfinite(f.lon))
    assert (f.lat is None) == (f.lon is None)
    assert f.altitude is None or math.isfinite(f.altitude)
    assert f.taken_at is None or isinstance(f.taken_at, datetime)
    assert f.orientation is None or 1 <= f.orientation <= 8
    for s in (f.camera_make, f.camera_model):
        assert s is None or (isinstance(s, str) and s.encode("utf-8"))
    json.dumps(f.extras).encode("utf-8")


@pytest.fixture(scope="module")
def harness(tmp_path_factory):  # type: ignore[no-untyped-def]
    need_shared()

    def hang(*_a: object) -> None:
        raise TimeoutError(f"a file took more than {CASE_SECONDS} s in the worker")

    old = signal.signal(signal.SIGALRM, hang)
    h = Harness(tmp_path_factory.mktemp("fuzz"))
    yield h
    signal.signal(signal.SIGALRM, old)
    print(f"\nfuzz: {h.n} cases, {dict(STATS)}; reasons: {REASONS.most_common(12)}")


# --- mutations -----------------------------------------------------------------------------


@st.composite
def byte_edits(draw: st.DrawFn, data: bytes, lo: int = 0, hi: int | None = None) -> bytes:
    """Flip, overwrite, insert, delete bytes in data[lo:hi], and maybe truncate."""
    buf = bytearray(data)
    hi = len(buf) if hi is None else min(hi, len(buf))
    for _ in range(draw(st.integers(1, 8))):
        if hi <= lo:
            break
        i = draw(st.integers(lo, hi - 1))
        op = draw(st.sampled_from(["flip", "set", "insert", "delete", "ff"]))
        if op == "flip":
            buf[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "set":
            buf[i] = draw(st.sampled_from([0, 0xFF, 0x7F, 0x80, draw(st.integers(0, 255))]))
        elif op == "insert":
            buf[i:i] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del buf[i : i + draw(st.integers(1, 16))]
        else:
            buf[i : i + 2] = b"\xff" + bytes([draw(st.integers(0xC0, 0xFE))])
        hi = min(hi, len(buf))
    if draw(st.integers(0, 9)) == 0:
        buf = buf[: draw(st.integers(0, len(buf)))]
    return bytes(buf)


WRONG_TYPES = st.sampled_from([*range(0, 14), 0xFFFF])


@st.composite
def entry(draw: st.DrawFn, tag: int) -> ff.Entry:
    typ = draw(WRONG_TYPES)
    size = ff.TYPE_SIZES.get(typ, 1)
    count = draw(
        st.sampled_from([0, 1, 2, 3, 4, 20, draw(st.integers(0, 64)), 2**31 - 1, 2**32 - 1])
    )
    n = min(count, 64) * size
    value = draw(
        st.one_of(
            st.binary(min_size=n, max_size=n),
            st.binary(max_size=80),
            st.sampled_from(
                [
                    b"2019:13:45 25:61:61\x00",
                    b"0000:00:00 00:00:00\x00",
                    b"\xff\xfe\x00garbage",
                    b"<script>x</script>\x00",
                    struct.pack("<II", 0, 0) * 3,
                    struct.pack("<II", 1, 0) * 3,
                    struct.pack("<ii", -1, 1) * 3,
                    struct.pack("<d", float("nan")) * 3,
                    struct.pack("<d", float("inf")),
                    "café\u202e".encode() + b"\x01\x1b",
                ]
            ),
        )
    )
    return (tag, typ, count, value)


GPS_TAGS = [0, 1, 2, 3, 4, 5, 6, 7, 0x1D, 0x12]
DATE_TAGS = [0x9003, 0x9004, 0x9010, 0x9011, 0x9012, 0x9291, 0xA434, 0xA433, 0x829A, 0x8827]
IFD0_TAGS = [0x10F, 0x110, 0x112, 0x131, 0x132, 0x13B, 0x10E, 0x9003]


@settings(FUZZ)
@given(st.data())
def test_exif_tags_of_every_wrong_type(harness, data):
    """GPS, date, camera and lens tags with any type, count and bytes (raw TIFF, not piexif)."""
    pick = lambda tags: data.draw(st.lists(st.sampled_from(tags), max_size=6, unique=True))  # noqa: E731
    ifd0 = [data.draw(entry(t)) for t in pick(IFD0_TAGS)]
    exif = [data.draw(entry(t)) for t in pick(DATE_TAGS)]
    gps = [data.draw(entry(t)) for t in pick(GPS_TAGS)]
    blob = ff.tiff(ifd0, exif, gps)
    if data.draw(st.booleans()):
        blob = data.draw(byte_edits(blob))
    base = ff.seed_files()["coco0.jpg"]
    container = data.draw(st.sampled_from(["jpeg", "png", "webp"]))
    if container == "jpeg":
        plain = ff.plain_jpeg()
        harness.check(ff.with_app1(plain, b"Exif\x00\x00" + blob), ".jpg")
    elif container == "png":
        png = (
            ff.seed_files()["6.png"] if "6.png" in ff.seed_files() else ff.seed_files()["seed.png"]
        )
        chunk = ff.png_chunk(b"eXIf", blob)
        harness.check(png[:33] + chunk + png[33:], ".png")
    else:
        import io

        from PIL import Image

        buf = io.BytesIO()
        Image.open(io.BytesIO(base)).save(buf, "WEBP", exif=b"Exif\x00\x00" + blob)
        harness.check(buf.getvalue(), ".webp")


@settings(FUZZ)
@given(st.data())
def test_real_exif_blocks_flipped_truncated_garbled(harness, data):
    """The EXIF blocks of real cameras (maker notes included), damaged, in a JPEG APP1."""
    blobs = ff.exif_blobs()
    blob = blobs[data.draw(st.integers(0, len(blobs) - 1))]
    # Mostly the header and IFD structure (first KB), sometimes anywhere.
    hi = data.draw(st.sampled_from([64, 512, 2048, len(blob)]))
    mutated = data.draw(byte_edits(blob, 0, hi))
    harness.check(ff.with_app1(ff.plain_jpeg(), mutated), ".jpg")


@settings(FUZZ)
@given(st.data())
def test_jpeg_markers_and_segment_lengths(harness, data):
    """SOI/SOF/DQT/DHT/SOS/APP segments of real JPEGs: lengths, contents, order, dimensions."""
    seeds = [v for k, v in ff.seed_files().items() if k.endswith(".jpg")]
    jpeg = seeds[data.draw(st.integers(0, len(seeds) - 1))]
    segs = ff.jpeg_segments(jpeg)
    op = data.draw(st.sampled_from(["length", "body", "drop", "dup", "dims", "soi", "tail"]))
    buf = bytearray(jpeg)
    _marker, start, end = segs[data.draw(st.integers(0, len(segs) - 1))]
    if op == "length":
        value = data.draw(st.sampled_from([0, 1, 2, 3, 0xFFFF, end - start - 3, end - start + 5]))
        struct.pack_into(">H", buf, start + 2, max(0, min(0xFFFF, value)))
    elif op == "body":
        buf = bytearray(data.draw(byte_edits(bytes(buf), start + 4, end)))
    elif op == "drop":
        del buf[start:end]
    elif op == "dup":
        buf[start:start] = buf[start:end]
    elif op == "dims":
        w = data.draw(st.sampled_from([0, 1, 65535, 30000, data.draw(st.integers(0, 65535))]))
        h = data.draw(st.sampled_from([0, 1, 65535, 30000, data.draw(st.integers(0, 65535))]))
        buf = bytearray(ff.jpeg_with_dims(bytes(buf), w, h))
    elif op == "soi":
        buf[0:2] = data.draw(st.binary(min_size=2, max_size=2))
    else:
        buf = bytearray(data.draw(byte_edits(bytes(buf), segs[-1][2], len(buf))))
    harness.check(bytes(buf), ".jpg")


@settings(FUZZ)
@given(st.data())
def test_png_chunks(harness, data):
    """IHDR dimensions (with and without a valid CRC), CRCs, chunk lengths, eXIf, truncation."""
    names = [k for k in ff.seed_files() if k.endswith(".png")]
    png = ff.seed_files()[data.draw(st.sampled_from(names))]
    chunks = ff.png_chunks(png)
    op = data.draw(st.sampled_from(["ihdr", "crc", "length", "body", "exif", "drop", "sig"]))
    buf = bytearray(png)
    _kind, start, end = chunks[data.draw(st.integers(0, len(chunks) - 1))]
    if op == "ihdr":
        w = data.draw(st.sampled_from([0, 1, 2**31 - 1, 2**32 - 1, 100000, 7000]))
        h = data.draw(st.sampled_from([0, 1, 2**31 - 1, 2**32 - 1, 100000, 7000]))
        depth = data.draw(st.sampled_from([8, 16, 1, 3, 0, 255]))
        ctype = data.draw(st.sampled_from([2, 6, 0, 3, 4, 1, 7]))
        body = struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, 0)
        ihdr = ff.png_chunk(b"IHDR", body, crc_ok=data.draw(st.booleans()))
        _k, s0, e0 = chunks[0]
        buf[s0:e0] = ihdr
    elif op == "crc":
        buf[end - 4 : end] = data.draw(st.binary(min_size=4, max_size=4))
    elif op == "length":
        value = data.draw(st.sampled_from([0, 1, 2**31 - 1, 2**32 - 1, end - start]))
        struct.pack_into(">I", buf, start, value)
    elif op == "body":
        buf = bytearray(data.draw(byte_edits(bytes(buf), start + 8, end - 4)))
    elif op == "exif":
        blob = data.draw(st.sampled_from(ff.exif_blobs()))
        blob = data.draw(byte_edits(blob[6:], 0, 256)) if data.draw(st.booleans()) else blob[6:]
        buf[33:33] = ff.png_chunk(b"eXIf", blob)
    elif op == "drop":
        del buf[start:end]
    else:
        buf[0:8] = data.draw(byte_edits(bytes(buf[0:8])))
    harness.check(bytes(buf), ".png")


@settings(FUZZ)
@given(st.data())
def test_webp_tiff_heic_gif_headers(harness, data):
    """The first bytes of real WebP (RIFF sizes, VP8 headers), TIFF (IFD offsets, counts), HEIC
    (ftyp/meta boxes) and GIF files, flipped, garbled and truncated."""
    seeds = {k: v for k, v in ff.seed_files().items() if not k.endswith((".jpg", ".png"))}
    name = data.draw(st.sampled_from(sorted(seeds)))
    raw = seeds[name]
    hi = data.draw(st.sampled_from([16, 64, 256, len(raw)]))
    harness.check(data.draw(byte_edits(raw, 0, hi)), Path(name).suffix)


# --- named hostile cases ---------------------------------------------------------------------


def test_decompression_bombs_and_absurd_dimensions_are_refused_without_decoding(tmp_path):
    """Headers declaring huge images are refused from the header alone: the process that checks
    them stays small (peak RSS measured in a fresh interpreter)."""
    need_shared()
    cases = {
        "bomb.png": ff.png_with_dims(100_000, 100_000),
        "wide.png": ff.png_with_dims(2**31 - 1, 1),
        "zero.png": ff.png_with_dims(0, 10),
        "bomb.jpg": ff.jpeg_with_dims(ff.plain_jpeg(), 65000, 65000),
        "zero.jpg": ff.jpeg_with_dims(ff.plain_jpeg(), 0, 0),
        "empty.jpg": b"",
        "tiny.jpg": b"\xff\xd8",
        "big.jpg": ff.plain_jpeg() + b"\x00" * 5_000,
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
    script = f"""
import json, os, sys
sys.path.insert(0, {str(ROOT)!r})
from pipelines.worker import Task, Worker, WorkerConfig
from atw.core.engine import create_schema, make_engine
url = "sqlite:///{tmp_path}/w.sqlite"
create_schema(make_engine(url))
w = Worker(WorkerConfig(url, "{tmp_path}/thumbs", 64, 70, 250_000_000, 5_000))
out = {{}}
for name in sorted(os.listdir({str(tmp_path)!r})):
    p = os.path.join({str(tmp_path)!r}, name)
    if not name.endswith((".png", ".jpg")):
        continue
    st = os.stat(p)
    r = w(Task(p, {str(tmp_path)!r}, st.st_size, st.st_mtime_ns))
    out[name] = [r.kind, r.reason]
# VmHWM, not ru_maxrss: Linux carries the parent's (pytest's) peak into ru_maxrss across exec.
with open("/proc/self/status") as fh:
    out["maxrss_mb"] = next(int(l.split()[1]) for l in fh if l.startswith("VmHWM:")) / 1024
print(json.dumps(out))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    print(f"\npeak RSS while refusing bombs: {out['maxrss_mb']:.0f} MB")
    assert out["maxrss_mb"] < 250
    assert "decompression bomb guard" in out["bomb.png"][1]
    assert "decompression bomb guard" in out["wide.png"][1]
    assert "decompression bomb guard" in out["bomb.jpg"][1]
    assert out["empty.jpg"] == ["error", "empty file (0 bytes)"]
    assert "MAX_FILE_BYTES" in out["big.jpg"][1]
    for name in ("zero.png", "zero.jpg", "tiny.jpg"):
        assert out[name][0] == "error" and out[name][1], name


def test_folders_symlink_loops_and_dangling_links_are_quarantined(make_app, tmp_path):
    need_shared()
    root = tmp_path / "photos"
    root.mkdir()
    (root / "ok.jpg").write_bytes(ff.plain_jpeg())
    (root / "folder.jpg").mkdir()  # a directory named like a photo: walked into, nothing there
    (root / "loop.jpg").symlink_to(root / "loop.jpg")
    (root / "a.jpg").symlink_to(root / "b.jpg")
    (root / "b.jpg").symlink_to(root / "a.jpg")
    (root / "dangling.jpg").symlink_to(tmp_path / "nowhere.jpg")
    (tmp_path / "real_dir.jpg").mkdir()
    (root / "dirlink.jpg").symlink_to(tmp_path / "real_dir.jpg")
    (root / "sub").mkdir()
    (root / "sub" / "up").symlink_to(root)  # a folder loop: symlinked folders are not followed
    (root / "fifo.jpg").unlink(missing_ok=True)
    os.mkfifo(root / "fifo.jpg")  # a pipe posing as a photo must not block the worker
    app = make_app(FILE_TIMEOUT=20)
    t0 = time.monotonic()
    summary = index(app, root)
    assert time.monotonic() - t0 < 60
    assert summary.indexed == 1
    con = sqlite3.connect(Path(app.instance_path) / "atw.sqlite")
    rows = dict(con.execute("SELECT path, reason FROM quarantine"))
    con.close()
    names = {Path(p).name: r for p, r in rows.items()}
    assert "Too many levels of symbolic links" in names["loop.jpg"]
    assert "Too many levels" in names["a.jpg"] and "Too many levels" in names["b.jpg"]
    assert "No such file" in names["dangling.jpg"]
    assert names["dirlink.jpg"] == "is a folder, not a file"
    assert names["fifo.jpg"] == "not a regular file (a pipe, socket or device)"


def test_file_timeout_replaces_the_worker_and_the_run_goes_on(make_app, tmp_path):
    """A file that keeps a worker busy past FILE_TIMEOUT (a PNG with a million chunks before its
    pixels: reading them takes seconds) is quarantined; its worker is replaced and the other
    files are indexed. (A GIF of millions of frames no longer is slow: only the first frame
    is read since frames stopped being counted.)"""
    need_shared()
    root = tmp_path / "photos"
    root.mkdir()
    (root / "slow.png").write_bytes(ff.slow_png(1_000_000))
    seeds = ff.seed_files()
    for i, (name, data) in enumerate(sorted(seeds.items())):
        if name.endswith((".jpg", ".png", ".webp")):
            (root / f"{i:02d}-{name}").write_bytes(data)
    app = make_app(FILE_TIMEOUT=1, INDEX_WORKERS=1)
    summary = index(app, root)
    n_ok = len(list(root.iterdir())) - 1
    assert summary.indexed == n_ok and summary.quarantined == 1
    con = sqlite3.connect(Path(app.instance_path) / "atw.sqlite")
    reason = con.execute("SELECT reason FROM quarantine").fetchone()[0]
    con.close()
    assert reason == "took longer than FILE_TIMEOUT (1 s)"


def test_index_runs_over_a_folder_of_mutated_files_go_on(make_app, tmp_path):
    """Whole index runs (real worker processes) over 300 mutated files: the run completes and
    every file is either indexed or quarantined with a reason."""
    need_shared()
    import random

    rng = random.Random(3)
    root = tmp_path / "mutants"
    root.mkdir()
    seeds = sorted(ff.seed_files().items())
    for i in range(300):
        name, data = seeds[i % len(seeds)]
        buf = bytearray(data)
        for _ in range(rng.randint(1, 6)):
            j = rng.randrange(0, min(len(buf), 512 if i % 2 else len(buf)))
            buf[j] = rng.randrange(256)
        if i % 7 == 0:
            buf = buf[: rng.randrange(len(buf))]
        raw_name = os.fsencode(f"m{i:03d}") + (b"\xe9\x01" if i % 10 == 0 else b"")
        (root / os.fsdecode(raw_name + os.fsencode(Path(name).suffix))).write_bytes(bytes(buf))
    app = make_app()
    for _ in range(2):  # the second run finds nothing to do
        summary = index(app, root)
    assert summary.unchanged + summary.still_quarantined == 300
    con = sqlite3.connect(Path(app.instance_path) / "atw.sqlite")
    indexed = con.execute("SELECT count(*) FROM photo_path").fetchone()[0]
    reasons = [r[0] for r in con.execute("SELECT reason FROM quarantine")]
    status = [r[0] for r in con.execute("SELECT status FROM index_run")]
    con.close()
    assert indexed + len(reasons) == 300 and all(r.strip() for r in reasons)
    assert not [r for r in reasons if r.startswith("could not be recorded")]
    assert status == ["completed", "completed"]
    print(f"\nmutated folder: {indexed} indexed, {len(reasons)} quarantined")
