"""Per-photo class-group rows (PhotoGroup, GroupCount): which groups are stored, the rows a photo's
class rows give, their scores and counts, and the vocabulary version they follow. Their upkeep
in the writer's transaction and their rebuild: atw.core.group_upkeep.

Stored groups: every WordNet group and category of atw.core.vocabulary with at least two member
classes, one number (`grp`) per distinct member set (dog.n.01 and category:dogs share one; so do
the chains of WordNet groups with the same members). The ~880 groups give ~710 sets. A group of
one class is that class (photo_class answers it); nothing else is left out: even entity.n.01
(all 1080 classes) has rows, so every word is one index range with the score semantics of
atw.core.group_scores. Cost, measured on the synthetic index (5 unrelated ImageNet classes and
~3 COCO classes per photo, a pessimistic case): ~40 rows per photo, ~50 bytes each.

Rows are derived from PhotoClass (not Label/Detection): an ImageNet class row holds its
probability, a COCO class row its 5 best boxes and their number, enough for the group's sum, its
5 best member boxes and their count. Scores are integers in 1/UNITS.

Provenance: meta "vocabulary_version" = provenance() (the data file's version and the rule
here). While it differs from this atw's (a new atw with a new vocabulary file), the rows are
stale: the writer leaves them alone, the query layer answers group filters from photo_class
(exact, slower: atw.query.groups), and the next index run or `flask --app atw db upgrade`
rebuilds them under the index lock (atw.core.engine.derive_groups).

A photo without a capture time has NO_TIME in its rows' taken_at (a key column cannot be NULL)
and NULL in their sort_time (the order's key, revision 0005), as in photo: it sorts where
NULL sorts, like in every other list."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    func,
    select,
)
from sqlalchemy.orm import Session

from atw.core import vocabulary
from atw.core.group_schema import GroupCount
from atw.core.schema import Meta

UNITS = 10_000  # scores in 1/10000: labels are stored to 4 decimals, so sums are exact
NO_TIME = datetime(1, 1, 1)  # PhotoGroup.taken_at of a photo without a capture time
META_KEY = "vocabulary_version"
RULE = "g1"  # bump when the choice of stored groups or the row format changes
COCO, IMAGENET = "coco", "imagenet"
COUNT_SOURCES = ("any", IMAGENET, COCO)
BOXES = 5
REBUILD_CHUNK = 5000

ClassRow = Mapping[str, Any]  # PhotoClass columns: source, label, score, s2…s5, n (taken_at …)


@dataclass(frozen=True)
class StoredGroups:
    """The stored member sets of one vocabulary: grp of each group/category key, the keys and
    COCO member labels of each grp, and the grps of each stored class."""

    version: str
    ids: Mapping[str, int]
    keys: Mapping[int, tuple[str, ...]]
    coco: Mapping[int, tuple[str, ...]]
    size: Mapping[int, int]
    of_class: Mapping[tuple[str, str], tuple[int, ...]]


def stored_groups(vocab: vocabulary.Vocabulary | None = None) -> StoredGroups:
    """The stored groups of this vocabulary (default: this atw's), computed once."""
    return _stored(vocab) if vocab is not None else _default()


@cache
def _default() -> StoredGroups:
    return _stored(vocabulary.load())


@cache
def _stored(vocab: vocabulary.Vocabulary) -> StoredGroups:
    by_set: dict[tuple[frozenset[str], frozenset[str]], list[str]] = defaultdict(list)
    for key, entry in vocab.entries.items():
        if entry.kind != "class" and entry.size >= 2:
            members = (frozenset(entry.members[IMAGENET]), frozenset(entry.members[COCO]))
            by_set[members].append(key)
    ordered = sorted(by_set.items(), key=lambda item: min(item[1]))
    ids, keys, coco, size = {}, {}, {}, {}
    of_class: dict[tuple[str, str], list[int]] = defaultdict(list)
    for grp, ((inet, boxes), entry_keys) in enumerate(ordered, start=1):
        keys[grp] = tuple(sorted(entry_keys, key=lambda k: (vocab.entries[k].kind, k)))
        ids.update(dict.fromkeys(entry_keys, grp))
        coco[grp] = tuple(sorted(boxes))
        size[grp] = len(inet) + len(boxes)
        for label in inet:
            of_class[(IMAGENET, label)].append(grp)
        for label in boxes:
            of_class[(COCO, label)].append(grp)
    return StoredGroups(
        version=f"{vocab.version}/{RULE}",
        ids=ids,
        keys=keys,
        coco=coco,
        size=size,
        of_class={k: tuple(v) for k, v in of_class.items()},
    )


def provenance() -> str:
    """What meta "vocabulary_version" holds when the rows follow this atw's vocabulary."""
    return stored_groups().version


def units(score: float) -> int:
    """A stored score (4 decimals) in 1/UNITS."""
    return round(score * UNITS)


def threshold(t: float) -> int:
    """The smallest score in 1/UNITS that is ≥ t (so `units ≥ threshold(t)` ⇔ score ≥ t)."""
    return -int(-round(t * UNITS, 6) // 1)


def bucket(u: int) -> int:
    """GroupCount bucket of a score in 1/UNITS: ⌊score × 100⌋ (like derived.bucket)."""
    return min(100, max(0, u // (UNITS // 100)))


# --- rows of one photo (pure) -----------------------------------------------------------


def rows_of(
    photo_id: int,
    taken_at: datetime | None,
    class_rows: Iterable[ClassRow],
    groups: StoredGroups | None = None,
    sort_time: datetime | None = None,
) -> list[dict[str, Any]]:
    """A photo's PhotoGroup rows from its PhotoClass rows (atw.core.group_scores semantics):
    inet = the member probabilities summed, capped at 1; c1…c5 = the 5 best member boxes, n
    their number; score = the larger of inet and c1; sort_time the photo's (revision 0005).
    (Written for speed: ~40 rows a photo.)"""
    of_class = (groups or stored_groups()).of_class
    inet: dict[int, int] = {}
    boxes: dict[int, list[int]] = {}
    count: dict[int, int] = {}
    for r in class_rows:
        grps = of_class.get((r["source"], r["label"]))
        if not grps:
            continue
        if r["source"] == COCO:
            top = [round(r["score"] * UNITS)]
            top += [round(x * UNITS) for x in (r["s2"], r["s3"], r["s4"], r["s5"]) if x is not None]
            n = r["n"]
            for g in grps:
                if g in boxes:
                    boxes[g] += top
                    count[g] += n
                else:
                    boxes[g], count[g] = list(top), n
        else:
            u = round(r["score"] * UNITS)
            for g in grps:
                inet[g] = inet.get(g, 0) + u
    when = taken_at or NO_TIME
    out = []
    for g in sorted(inet.keys() | boxes.keys()):
        part = inet.get(g)
        if part is not None and part > UNITS:
            part = UNITS
        b = boxes.get(g)
        if b is None:
            c: list[int | None] = _NONE
        else:
            b.sort(reverse=True)
            c = [*b[:BOXES], *_NONE[: BOXES - len(b)]]
        best = c[0]
        score = part if best is None else best if part is None or best > part else part
        out.append(
            {
                "grp": g,
                "taken_at": when,
                "photo_id": photo_id,
                "score": score,
                "inet": part,
                "c1": best,
                "c2": c[1],
                "c3": c[2],
                "c4": c[3],
                "c5": c[4],
                "n": count.get(g, 0),
                "sort_time": sort_time,
            }
        )
    return out


_NONE: list[int | None] = [None] * BOXES


def count_deltas(rows: Iterable[Mapping[str, Any]], sign: int = 1) -> Counter[tuple[int, str, int]]:
    """What adding (sign=1) or removing (-1) rows does to GroupCount."""
    out: Counter[tuple[int, str, int]] = Counter()
    for r in rows:
        out[(r["grp"], "any", bucket(r["score"]))] += sign
        if r["inet"] is not None:
            out[(r["grp"], IMAGENET, bucket(r["inet"]))] += sign
        if r["c1"] is not None:
            out[(r["grp"], COCO, bucket(r["c1"]))] += sign
    return out


# --- provenance -------------------------------------------------------------------------


def current(session: Session) -> bool:
    """True when the index's group rows follow this atw's vocabulary (meta says so). Read once
    per session (session.info; a rebuild in the session updates it)."""
    known = session.info.get(META_KEY)
    if known is None:
        known = session.info[META_KEY] = stored_version(session) == provenance()
    return bool(known)


def stored_version(session: Session) -> str | None:
    """The vocabulary version meta records for the group rows (None: none yet)."""
    return session.scalar(select(Meta.value).where(Meta.key == META_KEY))


def group_photos(session: Session, grp: int, source: str = "any", lo: int = 0) -> int:
    """Photos with this group at bucket ≥ lo (GroupCount)."""
    total = func.coalesce(func.sum(GroupCount.photos), 0)
    q = select(total).where(GroupCount.grp == grp, GroupCount.source == source)
    return int(session.scalar(q.where(GroupCount.bucket >= lo)) or 0)
