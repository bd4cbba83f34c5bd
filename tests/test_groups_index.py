"""Class groups over a real index of the shared ImageNet samples (the real classifier and
detector): what "dog", "bird" and a category return against labels.csv's true classes; the
group rows rebuilt when the vocabulary's version changes; the migration on an older index."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import select

from atw.core import dialect, group_rows, migrations, vocabulary
from atw.core.engine import make_engine
from atw.core.group_schema import GroupCount, PhotoGroup
from atw.core.schema import Detection, Label, Meta, PhotoPath
from atw.query import search
from atw.query.filters import parse
from tests.conftest import IMAGENET_DIR, MODEL_CONFIG, fresh_app, index, need_shared
from tests.test_query import session_of

pytestmark = pytest.mark.slow
V = vocabulary.load()


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Any:
    need_shared(IMAGENET_DIR / "labels.csv", *(Path(v) for v in MODEL_CONFIG.values() if "/" in v))
    app = fresh_app(tmp_path_factory.mktemp("groups-real") / "instance", **MODEL_CONFIG)
    summary = index(app, IMAGENET_DIR)
    assert summary.indexed == 300, summary.errors
    return app


def truth() -> dict[str, str]:
    """file name → its true class, as the classifier names it (labels.csv: class_index)."""
    with open(IMAGENET_DIR / "labels.csv", newline="") as fh:
        return {r["file"]: V.labels["imagenet"][int(r["class_index"])] for r in csv.DictReader(fh)}


def stored(app: Any) -> dict[int, dict[str, Any]]:
    """photo id → its file, top ImageNet label and every stored (source, label)."""
    out: dict[int, dict[str, Any]] = {}
    with session_of(app) as s:
        for pid, path in s.execute(select(PhotoPath.photo_id, PhotoPath.path)):
            out[pid] = {"file": Path(path).name, "top": None, "labels": set(), "best": -1.0}
        for pid, label, score in s.execute(select(Label.photo_id, Label.label, Label.score)):
            out[pid]["labels"].add(("imagenet", label))
            if score > out[pid]["best"]:
                out[pid]["top"], out[pid]["best"] = label, score
        for pid, label in s.execute(select(Detection.photo_id, Detection.label)):
            out[pid]["labels"].add(("coco", label))
    return out


def api_ids(app: Any, query: str) -> set[int]:
    """The ids of every photo the filter matches, through the query layer, and the API's total."""
    flt = parse(dict(pair.split("=") for pair in query.split("&")))
    with session_of(app) as s:
        page = search.search(s, flt, 1, 1000)
    assert page.total == len(page.ids)
    assert app.test_client().get(f"/api/photos?{query}").get_json()["total"] == page.total
    return set(page.ids)


@pytest.mark.parametrize(
    ("word", "key"),
    [
        ("dog", "dog.n.01"),
        ("bird", "bird.n.01"),
        ("vehicles", "category:vehicles"),
        ("food", "category:food"),
    ],
)
def test_a_word_returns_its_true_classes_and_nothing_outside(samples, word, key):
    members = V.entries[key].members
    inside = {("imagenet", lb) for lb in members["imagenet"]} | {
        ("coco", lb) for lb in members["coco"]
    }
    photos = stored(samples)
    got = api_ids(samples, f"classes={word}")
    true = truth()
    # Every photo of a member class that the classifier got right (its top label) is found.
    right = {
        pid
        for pid, p in photos.items()
        if true[p["file"]] in members["imagenet"] and p["top"] == true[p["file"]]
    }
    assert len(right) >= 5, (word, len(right))  # the samples hold several of each
    assert right <= got, sorted(photos[i]["file"] for i in right - got)
    # A photo none of whose labels or boxes is a member never is.
    outside = {pid for pid, p in photos.items() if not p["labels"] & inside}
    assert not got & outside
    assert got == {pid for pid, p in photos.items() if p["labels"] & inside}


def test_the_threshold_reads_the_group_score(samples):
    """dog ≥ 0.6: the photos whose dog-breed probabilities add up to 0.6, or a dog box that
    reaches it (from the stored rows, summed here)."""
    with session_of(samples) as s:
        inet: dict[int, float] = {}
        for pid, label, score in s.execute(select(Label.photo_id, Label.label, Label.score)):
            if label in V.entries["dog.n.01"].members["imagenet"]:
                inet[pid] = inet.get(pid, 0.0) + score
        boxes: dict[int, float] = {}
        for pid, label, score in s.execute(
            select(Detection.photo_id, Detection.label, Detection.score)
        ):
            if label == "dog":
                boxes[pid] = max(boxes.get(pid, 0.0), score)
    want = {
        p
        for p in inet.keys() | boxes.keys()
        if max(round(inet.get(p, 0), 4), boxes.get(p, 0)) >= 0.6
    }
    assert api_ids(samples, "classes=dog&min_score=0.6") == want and want


def table(app: Any, model: Any) -> list[tuple[Any, ...]]:
    """A table's rows, sorted (GroupCount: its non-zero rows; a count that went back to 0
    keeps its row, which counts nothing)."""
    with session_of(app) as s:
        rows = sorted(tuple(r) for r in s.execute(select(model.__table__)))
    return [r for r in rows if model is not GroupCount or r[-1]]


def test_a_new_vocabulary_version_rebuilds_the_group_rows_at_the_next_run(samples):
    rows, counts = table(samples, PhotoGroup), table(samples, GroupCount)
    with session_of(samples) as s, s.begin():
        s.get(Meta, group_rows.META_KEY).value = "wn3.0-0000000000000000/g1"  # an older file
        s.execute(PhotoGroup.__table__.delete().where(PhotoGroup.grp < 50))  # and other rows
    before = api_ids(samples, "classes=dog&min_score=0.3")  # stale: answered from photo_class
    summary = index(samples, IMAGENET_DIR)
    assert summary.indexed == 0 and summary.relabelled == 0
    with session_of(samples) as s:
        assert group_rows.stored_version(s) == group_rows.provenance()
    assert table(samples, PhotoGroup) == rows and table(samples, GroupCount) == counts
    assert api_ids(samples, "classes=dog&min_score=0.3") == before


def test_db_upgrade_rebuilds_stale_group_rows_with_progress(samples):
    rows = table(samples, PhotoGroup)
    with session_of(samples) as s, s.begin():
        s.get(Meta, group_rows.META_KEY).value = "wn3.0-0000000000000000/g1"
    res = samples.test_cli_runner().invoke(args=["db", "upgrade"])
    assert res.exit_code == 0, res.output
    assert (
        "rebuilding the group rows" in res.output and "group rows: 300 of 300 photos" in res.output
    )
    assert table(samples, PhotoGroup) == rows


def test_an_index_from_before_the_groups_is_upgraded(samples, tmp_path):
    """An index at revision 0002 (before photo_group): `db upgrade` adds the tables and fills
    them from the stored labels: the same rows as the index built at head."""
    rows, counts = table(samples, PhotoGroup), table(samples, GroupCount)
    engine = make_engine(samples.config["DATABASE_URL"])
    try:
        with dialect.migrating(engine) as conn:
            command.downgrade(migrations.config(conn), "0002")
        with engine.connect() as conn:
            assert migrations.state_of(conn).kind == "outdated"
            assert not {"photo_group", "group_count"} & set(conn.dialect.get_table_names(conn))
    finally:
        engine.dispose()
    res = samples.test_cli_runner().invoke(args=["db", "upgrade"])
    assert res.exit_code == 0, res.output
    assert table(samples, PhotoGroup) == rows and table(samples, GroupCount) == counts
    assert api_ids(samples, "classes=dog")
