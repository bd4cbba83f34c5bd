"""The index run: the shared EXIF folder, incremental re-runs, moves, edits, quarantine."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from atw.core.engine import make_engine
from atw.core.media import register_plugins, thumb_path
from atw.core.schema import IndexRun, Photo, PhotoPath, Quarantine
from tests.conftest import EXIF_DIR, index, need_shared
from tests.photos import pattern, write_jpeg

ROOT = Path(__file__).resolve().parents[1]


def db(app) -> Session:  # type: ignore[no-untyped-def]
    return Session(make_engine(app.config["DATABASE_URL"]))


def pillow_decodes(path: Path, salvage: bool = False) -> bool:
    """Independent check: does Pillow (with pillow-heif) fully decode this file? With salvage:
    does Pillow's LOAD_TRUNCATED_IMAGES decode a picture from it (more than one flat colour
    on 1 % of it: the fill where no data was)?"""
    import numpy as np
    from PIL import ImageFile

    register_plugins()
    ImageFile.LOAD_TRUNCATED_IMAGES = salvage
    try:
        with Image.open(path) as im:
            im.load()
            if not salvage:
                return True
            a = np.asarray(im.convert("RGB"), np.uint32).reshape(-1, 3)
            packed = (a[:, 0] << 16) | (a[:, 1] << 8) | a[:, 2]
            return np.unique(packed, return_counts=True)[1].max() < 0.99 * len(a)
    except Exception:
        return False
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = False


def tree_fingerprint(folder: Path) -> dict[str, tuple[str, int]]:
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            out[str(p)] = (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
    return out


def test_shared_exif_folder_indexes_every_decodable_file(make_app, tmp_path):
    need_shared()
    app = make_app()
    before = tree_fingerprint(EXIF_DIR)
    result = app.test_cli_runner().invoke(args=["index", "--quiet", str(EXIF_DIR)])
    assert result.exit_code == 0, result.output
    assert "quarantined" in result.output

    files = [p for p in sorted(EXIF_DIR.iterdir()) if p.suffix.lower() != ".csv"]
    decodable = {str(p) for p in files if pillow_decodes(p)}
    damaged = {str(p) for p in files if str(p) not in decodable and pillow_decodes(p, True)}
    broken = {str(p) for p in files} - decodable - damaged
    assert len(decodable) > 100 and damaged and broken, "the shared folder has all three kinds"
    with db(app) as s:
        indexed = {pp.path: pp.photo for pp in s.scalars(select(PhotoPath))}
        quarantined = {q.path: q.reason for q in s.scalars(select(Quarantine))}
        assert set(indexed) == decodable | damaged
        assert {p for p, photo in indexed.items() if photo.damaged} == damaged
        assert all(indexed[p].damage_reason for p in damaged)
        assert set(quarantined) == broken
        assert all(reason.strip() for reason in quarantined.values())
        assert "empty" in quarantined[str(EXIF_DIR / "empty.jpg")]
        run = s.scalars(select(IndexRun)).one()
        assert run.status == "completed" and run.quarantined == len(broken)
    # The user's files are never touched.
    assert tree_fingerprint(EXIF_DIR) == before


def test_second_run_does_no_work_and_copies_add_paths(make_app, tmp_path):
    need_shared()
    root = tmp_path / "photos"
    shutil.copytree(EXIF_DIR, root)
    app = make_app()
    first = index(app, root)
    assert first.indexed > 100

    second = index(app, root)
    assert second.processed == 0, "unchanged files must not be read or decoded"
    assert second.unchanged == first.indexed
    assert second.indexed == second.new_paths == 0

    (root / "sub").mkdir()
    shutil.copy2(root / "bird.jpg", root / "sub" / "bird copy.JPG")
    third = index(app, root)
    assert (third.indexed, third.new_paths, third.processed) == (0, 1, 1)
    with db(app) as s:
        bird = s.scalars(
            select(Photo).join(PhotoPath).where(PhotoPath.path == str(root / "bird.jpg"))
        ).one()
        assert sorted(p.path for p in bird.paths) == [
            str(root / "bird.jpg"),
            str(root / "sub" / "bird copy.JPG"),
        ]
        assert s.scalar(select(func.count(Photo.id))) == first.indexed


def test_move_vanish_and_edit(make_app, tmp_path):
    root = tmp_path / "photos"
    a = write_jpeg(root / "a.jpg", pattern(seed=1), taken="2014:06:01 10:00:00")
    b = write_jpeg(root / "b.jpg", pattern(seed=2), taken="2014:06:02 10:00:00")
    c = write_jpeg(root / "c.jpg", pattern(seed=3), taken="2014:06:03 10:00:00")
    app = make_app()
    assert index(app, root).indexed == 3
    with db(app) as s:
        ids = {p.path: p.photo_id for p in s.scalars(select(PhotoPath))}

    # rename a → moved/a2.jpg; delete b; edit c in place (new content).
    (root / "moved").mkdir()
    a.rename(root / "moved" / "a2.jpg")
    b.unlink()
    write_jpeg(c, pattern(seed=33), taken="2014:06:03 10:00:00")
    run = index(app, root)
    assert (run.indexed, run.new_paths, run.missing) == (1, 1, 2)

    with db(app) as s:
        paths = {p.path: p for p in s.scalars(select(PhotoPath))}
        # The moved file kept its photo row and gained the new path; the old path is missing.
        assert paths[str(root / "moved" / "a2.jpg")].photo_id == ids[str(a)]
        assert paths[str(a)].missing_since is not None
        # The vanished file is marked missing, not deleted.
        assert paths[str(b)].missing_since is not None
        assert s.get(Photo, ids[str(b)]) is not None
        # The edited file is a new photo version pointing back at the old one.
        new_c = s.get(Photo, paths[str(c)].photo_id)
        assert new_c.id != ids[str(c)] and new_c.previous_version_id == ids[str(c)]
        assert s.get(Photo, ids[str(c)]) is not None
        assert paths[str(c)].missing_since is None

    # b comes back: no longer missing, and no work done for it.
    write_jpeg(b, pattern(seed=2), taken="2014:06:02 10:00:00")
    again = index(app, root)
    with db(app) as s:
        assert (
            s.scalars(select(PhotoPath).where(PhotoPath.path == str(b))).one().missing_since is None
        )
    assert again.indexed == 0


def test_missing_root_is_an_error_not_a_mass_deletion(make_app, tmp_path):
    root = tmp_path / "photos"
    write_jpeg(root / "a.jpg")
    app = make_app()
    index(app, root)
    shutil.rmtree(root)
    with pytest.raises(FileNotFoundError):
        index(app, root)
    with db(app) as s:
        assert s.scalars(select(PhotoPath)).one().missing_since is None


def test_broken_files_are_quarantined_and_retried_when_changed(make_app, tmp_path):
    root = tmp_path / "photos"
    root.mkdir()
    good = write_jpeg(root / "good.jpg")
    (root / "empty.jpg").write_bytes(b"")
    (root / "text.png").write_bytes(b"this is not a png at all")
    truncated = good.read_bytes()[: len(good.read_bytes()) // 2]
    (root / "truncated.JPG").write_bytes(truncated)  # half the picture decodes: damaged
    sos = truncated.index(b"\xff\xda")
    (root / "headers-only.jpg").write_bytes(truncated[: sos + 20])  # no picture data at all
    Image.new("1", (20000, 20000)).save(root / "bomb.png")  # 400 MP of header, tiny file
    (root / "folder.jpg").mkdir()  # a real folder with a photo-like name is just walked
    (tmp_path / "elsewhere").mkdir()
    (root / "linked.jpg").symlink_to(tmp_path / "elsewhere")  # a link to a folder is not a photo
    (root / "dangling.jpg").symlink_to(root / "nowhere.jpg")
    app = make_app()
    run = index(app, root)
    assert run.indexed == 2
    with db(app) as s:
        reasons = {Path(q.path).name: q.reason for q in s.scalars(select(Quarantine))}
        photos = {Path(pp.path).name: pp.photo for pp in s.scalars(select(PhotoPath))}
        assert photos["truncated.JPG"].damaged and not photos["good.jpg"].damaged
        assert "truncated" in photos["truncated.JPG"].damage_reason
    assert pillow_decodes(root / "truncated.JPG", salvage=True)
    assert not pillow_decodes(root / "headers-only.jpg", salvage=True)
    assert set(reasons) == {
        "empty.jpg",
        "text.png",
        "headers-only.jpg",
        "bomb.png",
        "linked.jpg",
        "dangling.jpg",
    }
    assert "empty" in reasons["empty.jpg"]
    assert "identify" in reasons["text.png"]
    assert "nothing of the picture decodes" in reasons["headers-only.jpg"]
    assert "decompression bomb" in reasons["bomb.png"] and "20000×20000" in reasons["bomb.png"]
    assert "folder" in reasons["linked.jpg"]
    assert "cannot stat" in reasons["dangling.jpg"]

    # Unchanged broken files are not retried; a fixed one is.
    again = index(app, root)
    assert again.processed == 0 and again.still_quarantined == 4
    write_jpeg(root / "headers-only.jpg", pattern(seed=9))
    fixed = index(app, root)
    assert fixed.indexed == 1
    with db(app) as s:
        assert str(root / "headers-only.jpg") not in set(s.scalars(select(Quarantine.path)))


def test_unreadable_file_is_quarantined(tmp_path):
    """A file the indexer may not read is quarantined with the reason; the run goes on. Root
    reads everything, so as root the indexer runs without the capabilities that allow it."""
    root = tmp_path / "photos"
    write_jpeg(root / "ok.jpg")
    secret = write_jpeg(root / "secret.jpg", pattern(seed=3))
    secret.chmod(0)
    cmd = [sys.executable, "-m", "flask", "--app", "atw", "index", "--quiet", str(root)]
    if os.geteuid() == 0:
        drop = "-dac_override,-dac_read_search"
        cmd = ["setpriv", f"--inh-caps={drop}", f"--bounding-set={drop}", *cmd]
    inst = tmp_path / "instance"
    env = {**os.environ, "ATW_INSTANCE_PATH": str(inst), "ATW_LABELERS": ""}
    try:
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    finally:
        secret.chmod(0o644)
    assert done.returncode == 0, done.stderr
    assert "1 indexed" in done.stdout and "1 quarantined" in done.stdout, done.stdout
    con = sqlite3.connect(inst / "atw.sqlite")
    rows = con.execute("SELECT path, reason FROM quarantine").fetchall()
    con.close()
    assert rows == [(str(secret), "cannot read: Permission denied")]


def test_scan_finds_suffixes_case_insensitively_and_skips_own_instance(make_app, tmp_path):
    root = tmp_path / "photos"
    img = pattern()
    write_jpeg(root / "a.JPG", img)
    write_jpeg(root / "b.Jpeg", pattern(seed=4))
    pattern(seed=5).save(root / "c.PNG")
    pattern(seed=6).save(root / "d.webp")
    pattern(seed=7).save(root / "e.TIFF")
    (root / "notes.txt").write_text("not a photo")
    write_jpeg(root / ".hidden" / "h.jpg", pattern(seed=8))
    app = make_app(INSTANCE_PATH=str(root / "instance"))
    index(app, root)
    second = index(app, root)  # thumbnails now exist inside root/instance: must not be indexed
    with db(app) as s:
        names = sorted(Path(p).name for p in s.scalars(select(PhotoPath.path)))
    assert names == ["a.JPG", "b.Jpeg", "c.PNG", "d.webp", "e.TIFF"]
    assert second.seen == 5


def test_thumbnails_are_keyed_by_hash_and_small(make_app, tmp_path):
    root = tmp_path / "photos"
    write_jpeg(root / "big.jpg", pattern((3000, 2000)))
    write_jpeg(root / "turned.jpg", pattern((3000, 2000), seed=2), orientation=6)
    app = make_app()
    index(app, root)
    with db(app) as s:
        sizes = {
            Path(p.path).name: (p.photo.width, p.photo.height) for p in s.scalars(select(PhotoPath))
        }
        photo = s.scalars(
            select(Photo).join(PhotoPath).where(PhotoPath.path.endswith("big.jpg"))
        ).one()
    # Full size as displayed, though the decoder only ever read a reduced (draft) version.
    assert sizes == {"big.jpg": (3000, 2000), "turned.jpg": (2000, 3000)}
    t = thumb_path(app.config["THUMBS_DIR"], photo.sha256)
    assert t.is_file() and str(t).startswith(app.instance_path)
    with Image.open(t) as im:
        assert im.size == (400, 267)


def _thumb_of(app, s: Session, path: Path) -> Image.Image:  # type: ignore[no-untyped-def]
    sha = s.scalars(select(Photo.sha256).join(PhotoPath).where(PhotoPath.path == str(path))).one()
    # Coarse grey version: the files differ only by the digit drawn in their centre.
    with Image.open(thumb_path(app.config["THUMBS_DIR"], sha)) as im:
        return im.convert("L").resize((64, 64), Image.Resampling.BOX)


def _diff(a: Image.Image, b: Image.Image) -> float:
    if a.size != b.size:
        return 255.0
    pa, pb = a.tobytes(), b.tobytes()
    return sum(abs(x - y) for x, y in zip(pa, pb, strict=True)) / len(pa)


@pytest.mark.parametrize("kind", ["landscape", "portrait"])
def test_thumbnails_of_all_eight_orientations_come_out_upright(make_app, kind):
    need_shared()
    app = make_app()
    files = [EXIF_DIR / f"{kind}_{n}.jpg" for n in range(1, 9)]
    index(app, *files)
    with db(app) as s:
        thumbs = [_thumb_of(app, s, f) for f in files]
    ref = thumbs[0]
    wrong = [ref.transpose(t) for t in Image.Transpose]  # the 7 other orientations of the picture
    for n, t in enumerate(thumbs[1:], start=2):
        d = _diff(t, ref)
        # (the sample set's _1 file is a slightly different exposure: about 13 grey levels)
        assert d < 20, f"{kind}_{n}.jpg thumbnail differs from {kind}_1 by {d:.1f}"
        # …and it is closer to the upright picture than to any turned or mirrored one.
        assert all(d * 1.5 < _diff(t, w) for w in wrong), f"{kind}_{n}.jpg is not upright"


def test_indexed_time_offset_gps_orientation_match_exiftool(make_app):
    need_shared()
    import time
    from datetime import datetime, timedelta

    from tests.exiftool_ref import expected_from_exiftool
    from tests.test_capture_time import exiftool, reference

    # File times are read in a named zone: Kathmandu, UTC+05:45 all year since 1986 (no DST).
    app = make_app(FILE_TIME_ZONE="Asia/Kathmandu")
    index(app, EXIF_DIR)
    with db(app) as s:
        rows = s.execute(select(PhotoPath.path, Photo).join(Photo)).all()
    want = expected_from_exiftool([Path(path) for path, _ in rows])
    # The capture date and the offset written with it, by the precedence over EXIF, XMP, IPTC
    # and PNG text (pipelines/capture.py), on exiftool's values (tests/test_capture_time.py).
    dates = exiftool(*(Path(path) for path, _ in rows))
    assert len(rows) > 100
    checked = 0
    for path, p in rows:
        e = want[path]
        taken, offset, _source = reference(dates[Path(path).name])
        if taken is None:  # no usable date: the file's mtime, marked estimated
            # (the UTC fields of the mtime, shifted by the fixed offset: not the code's own
            # zoneinfo expression)
            utc = datetime(*time.gmtime(Path(path).stat().st_mtime_ns // 10**9)[:6])
            wall = utc + timedelta(hours=5, minutes=45)
            assert (p.taken_at, p.utc_offset, p.time_estimated) == (wall, "+05:45", True), path
            assert (p.offset_source, p.taken_at_utc) == ("file", utc), path
        else:
            assert (p.taken_at, p.exif_offset, p.time_estimated) == (taken, offset, False), path
            if e.taken_at == taken and e.utc_offset:  # the EXIF date and its own offset tag
                assert (p.utc_offset, p.offset_source) == (e.utc_offset, "exif"), path
        for key in ("lat", "lon", "altitude"):
            got, exp = getattr(p, key), getattr(e, key)
            assert (got is None) == (exp is None), (path, key, got, exp)
            if exp is not None:
                assert abs(got - exp) < 1e-6, (path, key, got, exp)
        assert p.orientation == e.orientation, path
        checked += 1
    assert checked == len(rows)
