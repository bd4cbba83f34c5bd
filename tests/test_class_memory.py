"""The class rows held in memory (atw.query.class_memory): the picker's counts from them equal the
reference for every kind of filter, on SQLite and PostgreSQL, and are really answered there;
every write to photo_class moves summary_version (the triggers of revision 0010), so rows read
before a relabelling are never used after it, and the web process loads them in a thread,
answering from SQL meanwhile."""

from __future__ import annotations

import random
import time
from dataclasses import replace
from datetime import date
from typing import Any

import numpy as np
import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from atw.core import summary_counts
from atw.core.engine import make_engine
from atw.core.schema import PhotoClass
from atw.query import class_memory, search
from atw.query.filters import PhotoFilter, describe
from tests.test_query import (
    COCO_CLASSES,
    FOLDERS,
    IMAGENET,
    LISBON,
    SYDNEY,
    module_world,
    ref_counts,
    world,
    write_labels,
)

pytestmark = pytest.mark.databases


@pytest.fixture(scope="module")
def mworld(tmp_path_factory: pytest.TempPathFactory, module_database: Any) -> Any:
    return module_world(tmp_path_factory.mktemp("memory"), module_database, world())


@pytest.fixture
def answered(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Records, per class_counts call that may use them, whether the held rows answered."""
    seen: list[bool] = []
    real = class_memory.counts

    def spy(*args: Any) -> Any:
        out = real(*args)
        seen.append(out is not None)
        return out

    monkeypatch.setattr(class_memory, "counts", spy)
    return seen


def random_filters(root: Any, n: int) -> list[PhotoFilter]:
    rnd = random.Random(5)
    centres = [LISBON, SYDNEY, (-17.0, 179.95), (89.95, -30.0)]
    out = []
    for _ in range(n):
        kw: dict[str, Any] = {}
        if rnd.random() < 0.6:
            (lat, lon), r = rnd.choice(centres), rnd.choice([5, 20, 50, 3000])
            kw.update(lat=lat, lon=lon, radius_km=r)
        if rnd.random() < 0.3:
            kw.update(start=date(2014, 6, 1), end=date(2015, 12, 31))
        if rnd.random() < 0.3:
            kw["folder"] = str(root / rnd.choice(FOLDERS))
        if rnd.random() < 0.3:
            kw["classes"] = tuple(rnd.sample(IMAGENET + COCO_CLASSES, rnd.randint(1, 2)))
            kw["match"] = rnd.choice(["any", "all"])
        kw["source"] = rnd.choice(["any", "any", "imagenet", "coco"])
        kw["min_score"] = rnd.choice([None, 0.3, 0.5, 0.555, 0.8])
        if kw["source"] != "imagenet" and rnd.random() < 0.15:
            kw["min_count"] = 2  # not from memory: the k-th scores are not held
            kw["classes"], kw["match"] = ("person",), "any"
        if not kw.get("lat") and not kw.get("folder") and not kw.get("classes"):
            kw["has_gps"] = True  # not only dates: those are counted by the label index
        out.append(PhotoFilter(**kw))
    return out


def test_counts_from_the_held_rows_equal_the_reference(mworld, answered):
    app, root, photos = mworld
    engine = make_engine(app.config["DATABASE_URL"])
    assert class_memory.hold(engine)
    filters = random_filters(root, 80)
    with Session(engine) as s:
        for flt in filters:
            assert search.class_counts(s, flt) == ref_counts(photos, flt, root), describe(flt)
    by_memory = sum(answered)
    assert by_memory == sum(f.min_count == 1 for f in filters) > 50, answered
    engine.dispose()


def test_every_write_to_a_class_row_moves_the_version(mworld):
    app, _root, photos = mworld
    engine = make_engine(app.config["DATABASE_URL"])
    pid = photos[0].id
    with engine.begin() as conn:
        row = conn.execute(select(PhotoClass).where(PhotoClass.photo_id == pid)).mappings().first()
    assert row is not None
    writes = [
        update(PhotoClass).where(PhotoClass.photo_id == pid).values(score=PhotoClass.score),
        update(PhotoClass).where(PhotoClass.photo_id == pid).values(label=PhotoClass.label),
        delete(PhotoClass).where(PhotoClass.photo_id == pid, PhotoClass.label == row["label"]),
        PhotoClass.__table__.insert().values(**row),
    ]
    each_moves_the_version(engine, writes)
    engine.dispose()


def each_moves_the_version(engine: Any, writes: list[Any]) -> None:
    """Run each statement in its own transaction: each must change summary_version."""

    def version() -> tuple[str, int] | None:
        with engine.connect() as conn:
            return summary_counts.version(conn)

    for stmt in writes:
        before = version()
        with engine.begin() as conn:
            conn.execute(stmt)
        assert version() != before, stmt


def test_rows_held_before_a_relabelling_are_not_used_after_it(mworld, answered, monkeypatch):
    app, root, photos = mworld
    engine = make_engine(app.config["DATABASE_URL"])
    flt = PhotoFilter(lat=LISBON[0], lon=LISBON[1], radius_km=20)
    assert class_memory.hold(engine)
    with Session(engine) as s:
        assert search.class_counts(s, flt) == ref_counts(photos, flt, root)
        assert search.class_counts(s, PhotoFilter()) == ref_counts(photos, PhotoFilter(), root)
    assert answered == [True]
    # Relabel the Lisbon photos through the real writer: other classes, other scores.
    changed = [
        replace(p, imagenet=[("volcano", 0.9)], coco=[("person", 0.7), ("person", 0.6)])
        for p in photos
        if p.folder == "lisbon"
    ]
    write_labels(app, changed, model="m2")
    now = [next((c for c in changed if c.id == p.id), p) for p in photos]
    monkeypatch.setattr(class_memory, "QUIET", 0.0)
    monkeypatch.setattr(class_memory, "MIN_ROWS", 0)  # the rows are held from any size
    with Session(engine) as s:
        got = search.class_counts(s, flt)  # from SQL; a load starts (the version is quiet)
        assert got == ref_counts(now, flt, root)
        assert ("volcano", "imagenet") in {(r["label"], r["source"]) for r in got}
        deadline = time.monotonic() + 30
        while answered[-1] is False:
            assert time.monotonic() < deadline, "the rows were not loaded again"
            time.sleep(0.05)
            assert search.class_counts(s, flt) == ref_counts(now, flt, root)
        everything = PhotoFilter()  # ClassCount held with the rows (class_totals): the new one
        assert search.class_counts(s, everything) == ref_counts(now, everything, root)
        assert class_memory.current(s) is not None
    assert answered[:2] == [True, False] and answered[-1] is True
    write_labels(app, photos, model="m3")  # the world as the other tests expect it
    engine.dispose()


def test_the_web_process_loads_the_rows_in_a_thread_and_answers_from_sql_meanwhile(
    mworld, answered, monkeypatch
):
    app, _root, _photos = mworld
    monkeypatch.setattr(class_memory, "MIN_ROWS", 0)  # the rows are held from any size
    url = "/api/classes?kind=class&lat=38.72&lon=-9.14&radius_km=20&min_score=0.5"
    with app.test_client() as c:
        first = c.get(url)
        assert first.status_code == 200 and answered == [False]
        deadline = time.monotonic() + 30
        while answered[-1] is False:
            assert time.monotonic() < deadline, "the rows were not loaded"
            time.sleep(0.05)
            assert c.get(url).get_json() == first.get_json()
    assert answered[-1] is True and first.get_json()


def test_a_small_index_is_not_held(mworld, answered):
    app, _root, _photos = mworld
    engine = make_engine(app.config["DATABASE_URL"])
    assert class_memory.load(engine, min_rows=10**9) is None
    with Session(engine) as s:  # MIN_ROWS: the world is far smaller; SQL answers every time
        for _ in range(3):
            search.class_counts(s, PhotoFilter(lat=LISBON[0], lon=LISBON[1], radius_km=20))
            time.sleep(0.2)
    assert answered == [False, False, False]
    engine.dispose()


def test_scores_off_the_four_decimals_are_held_as_they_are(mworld, answered):
    """An index whose scores are not all ticks of 1/10,000 (written by other means): the rows
    keep float64 scores and compare them as SQL does, even at a threshold between two ticks."""
    app, _root, photos = mworld
    engine = make_engine(app.config["DATABASE_URL"])
    pid = photos[0].id
    with engine.begin() as conn:
        old = conn.execute(
            select(PhotoClass.label, PhotoClass.source, PhotoClass.score)
            .where(PhotoClass.photo_id == pid)
            .order_by(PhotoClass.label, PhotoClass.source)
        ).first()
        assert old is not None
        where = (PhotoClass.photo_id == pid, PhotoClass.label == old.label)
        conn.execute(update(PhotoClass).where(*where).values(score=0.123456789))
    held = class_memory.load(engine)
    assert held is not None and held.score.dtype == np.float64
    assert class_memory.hold(engine)
    flt = PhotoFilter(lat=LISBON[0], lon=LISBON[1], radius_km=20)
    with Session(engine) as s:
        for t in (0.12345678, 0.123456789, 0.1234568):
            got = search.class_counts(s, replace(flt, min_score=t))
            with pytest.MonkeyPatch.context() as mp:
                mp.setattr(class_memory, "counts", lambda *_a: None)
                assert got == search.class_counts(s, replace(flt, min_score=t)), t
    assert answered == [True, True, True]
    with engine.begin() as conn:
        conn.execute(update(PhotoClass).where(*where).values(score=old.score))
    engine.dispose()


def test_one_selection_counts_each_source_and_threshold_afresh(mworld):
    """Rows.pick keeps one request's selection and its last count; another source or threshold
    on the same ids is counted again, and a caller's changes to an answer stay its own."""
    app, _root, photos = mworld
    engine = make_engine(app.config["DATABASE_URL"])
    rows = class_memory.hold(engine)
    assert rows is not None
    ids = np.array(sorted(p.id for p in photos), dtype=np.int64)
    asked = [(("imagenet", "coco"), None), (("coco",), 0.5), (("imagenet",), 0.3)]
    asked += asked[:1]
    got = [rows.count(ids, sources, t) for sources, t in asked]
    assert rows.pick(ids) is rows.pick(ids)  # one selection of the rows
    for (sources, t), answer in zip(asked, got, strict=True):
        rows.memo.clear()  # counted from a fresh selection
        assert rows.count(ids.copy(), sources, t) == answer, (sources, t)
    assert got[0] == got[3] != got[1] != got[2]
    mine = rows.count(ids, *asked[0])
    mine[("coco", "no such class")] = 1  # the caller's copy, not the kept answer
    assert rows.count(ids, *asked[0]) == got[0]
    engine.dispose()
