"""The places stage's re-timing of class-group rows (group_upkeep.set_sort_times: times passed
through as the driver has them, updates in key order) on SQLite and PostgreSQL: every group row
of a re-timed photo gets its photo's new sort_time, a photo without a time keeps none, the
other photos' rows stay as they were."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from atw.core import derived
from atw.core.group_schema import PhotoGroup
from atw.core.schema import Photo
from tests.test_groups import make_gworld
from tests.test_query import session_of

pytestmark = pytest.mark.databases  # on SQLite and on PostgreSQL (tests/conftest.py)


def group_times(app) -> dict[tuple[int, int], object]:
    with session_of(app) as s:
        return {
            (g, p): t
            for g, p, t in s.execute(
                select(PhotoGroup.grp, PhotoGroup.photo_id, PhotoGroup.sort_time)
            )
        }


def test_re_timed_photos_move_their_group_rows(tmp_path, database):
    app, _root, photos = make_gworld(tmp_path, database)
    before = group_times(app)
    moved = [p.id for p in photos[1::2]]  # every other photo, the undated one among them
    assert any(getattr(p, "undated", False) for p in photos[1::2])
    with session_of(app) as s, s.begin():
        times = dict(s.execute(select(Photo.id, Photo.sort_time).where(Photo.id.in_(moved))).all())
        for pid, t in times.items():
            if t is not None:  # as the places stage does: a new instant, hours away
                new = t + timedelta(hours=pid % 7 + 1, microseconds=pid)
                s.execute(update(Photo).where(Photo.id == pid).values(sort_time=new))
        derived.set_sort_times(s, moved)
    after = group_times(app)
    assert after.keys() == before.keys() and len(after) > 20
    with session_of(app) as s:
        now = dict(s.execute(select(Photo.id, Photo.sort_time)).all())
    changed = 0
    for (g, pid), t in after.items():
        if pid in moved:
            assert t == now[pid], (g, pid)
            changed += t != before[(g, pid)]
        else:
            assert t == before[(g, pid)], (g, pid)
    assert changed > 10
    assert any(now[pid] is None for pid in moved)  # the undated photo: still no time
