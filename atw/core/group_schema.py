"""The class-group tables of the schema (revision 0003, issue 14): PhotoGroup and GroupCount.

Part of the one schema (atw.core.schema's Base), in their own module for size: importing
atw.core.migrations (which builds and compares the schema) imports this module too, so
Base.metadata always holds them. Their rows: atw.core.group_rows."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from atw.core.schema import Base


class PhotoGroup(Base):
    """Added in revision 0003 (issue 14): one row per listed photo and class group it touches,
    derived from its PhotoClass rows by atw.core.group_rows (kept by atw.core.derived, rebuilt
    when the vocabulary's version changes; meta "vocabulary_version" says which one).

    grp numbers a distinct member set of the WordNet groups and categories (≥ 2 member classes;
    atw.core.group_rows.stored_groups). Scores are integers in 1/10000 (labels are stored to 4
    decimals, so sums are exact): score = the group score (atw.core.group_scores: max of inet,
    the ImageNet members' probabilities summed and capped at 1, and c1, the best COCO member
    box); c1…c5 the 5 best member boxes, n how many there are.

    Why: a group such as dog (119 classes) or a category is one index range, newest first, like
    one class in photo_class; expanding it into an IN list of classes cannot give a page or a
    count fast. The primary key is the only b-tree (no second index, no photo_id index, no
    foreign key): a photo's rows are found by (grp, taken_at, photo_id), which the upkeep
    computes from the photo's class rows. taken_at copies photo.taken_at (which never changes);
    a photo without one has group_rows.NO_TIME (a key column cannot be NULL).

    Revision 0005 (issue 13): sort_time copies photo.sort_time (the capture instant where
    known, NULL without a time; the places stage changes it: group_upkeep.set_sort_times), and
    ix_photo_group_sort gives a group's pages in that order, as ix_photo_class_label does for
    a class (covering: the score columns and taken_at for the exact date test)."""

    __tablename__ = "photo_group"

    grp: Mapped[int] = mapped_column(Integer, primary_key=True)
    taken_at: Mapped[datetime] = mapped_column(DateTime, primary_key=True)
    photo_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    score: Mapped[int] = mapped_column(Integer)
    inet: Mapped[int | None] = mapped_column(Integer)
    c1: Mapped[int | None] = mapped_column(Integer)
    c2: Mapped[int | None] = mapped_column(Integer)
    c3: Mapped[int | None] = mapped_column(Integer)
    c4: Mapped[int | None] = mapped_column(Integer)
    c5: Mapped[int | None] = mapped_column(Integer)
    n: Mapped[int] = mapped_column(Integer)
    sort_time: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (
        Index(
            "ix_photo_group_sort",
            *("grp", "sort_time", "photo_id", "score", "inet"),
            *("c1", "c2", "c3", "c4", "c5", "taken_at"),
        ),
        {"sqlite_with_rowid": False},
    )


class GroupCount(Base):
    """Added in revision 0003: how many listed photos have a class group with their score in a
    0.01 bucket, per source: "any" buckets the group score, "imagenet" the ImageNet part,
    "coco" the best COCO box (like ClassCount: the picker's and the planner's counts)."""

    __tablename__ = "group_count"

    grp: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(16), primary_key=True)
    bucket: Mapped[int] = mapped_column(Integer, primary_key=True)
    photos: Mapped[int] = mapped_column(Integer)
