"""The class catalogue of a filter: classes, WordNet groups and categories with how many of the
filtered photos have each (GET /api/classes, the autocomplete, the class browser), and one
entry's members, parents and children.

An entry's count is the number of photos of the filter (its class words included) that the entry
alone would select with the filter's source, min_score and min_count: a group by its group
score (atw.core.group_scores), a class by its own. Groups and categories with the same member
classes (dog.n.01 and "Dogs") have the same count."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from atw.core import group_rows, vocabulary
from atw.core.group_rows import NO_TIME
from atw.core.group_schema import GroupCount, PhotoGroup
from atw.core.schema import ClassCount, PhotoClass
from atw.core.vocabulary import Entry
from atw.query import conditions, groups, search, words
from atw.query.filters import PhotoFilter, photo_conditions_empty
from atw.query.plan import Query
from atw.query.terms import allowed_sources, date_conds, grid_bucket, on_grid, score_conds

KINDS = ("category", "group", "class")
RANK = {kind: i for i, kind in enumerate(KINDS)}


def word_for(entry: Entry) -> str:
    """A word that names exactly this entry in a filter: its name, else a synonym, else its
    key ("cat.n.01": the word "cat" names the domestic cat). Never one with a comma (the
    classes field splits on commas: "Sport, games & toys" is "sport")."""
    for word in (entry.name, *entry.lemmas):
        if "," not in word and [e.key for e in words.entries(word)] == [entry.key]:
            return word
    return entry.key


def brief(entry: Entry, photos: int) -> dict[str, Any]:
    """An entry as the API lists it (parents: keys; a top-level category has none)."""
    return {
        "kind": entry.kind,
        "key": entry.key,
        "label": word_for(entry),
        "name": entry.name,
        "members": entry.size,
        "photos": photos,
        "parents": list(entry.parents),
    }


# --- counts ---------------------------------------------------------------------------


def _only_dates(flt: PhotoFilter) -> bool:
    """No condition but (maybe) dates: counted on the rows' own date copies, no photo list
    (class and group rows are those of listed photos, with their taken_at)."""
    return not flt.classes and photo_conditions_empty(replace(flt, start=None, end=None))


def _filtered_ids(session: Session, flt: PhotoFilter) -> Any:
    ids = Query(session, flt).ids().subquery()
    return select(ids.c.id)


def counts(session: Session, flt: PhotoFilter, entries: Iterable[Entry]) -> dict[str, int]:
    """{entry key: photos} for these entries within the filtered photos (module docstring)."""
    entries = list(entries)
    stored = group_rows.stored_groups()
    fresh = group_rows.current(session)
    out: dict[str, int] = {}
    grps = {e.key: stored.ids[e.key] for e in entries if e.key in stored.ids}
    if grps and fresh:
        by_grp = _group_counts(session, flt, sorted(set(grps.values())))
        out.update({key: by_grp.get(g, 0) for key, g in grps.items()})
    rest = [e for e in entries if e.key not in out]
    pairs = {e.key: _pairs(flt, e) for e in rest if e.key not in grps}
    by_pair = _single_counts(session, flt, {p for ps in pairs.values() if len(ps) <= 2 for p in ps})
    for e in rest:
        if e.key in grps:  # stale group rows: the planner's exact fallback
            out[e.key] = _query_count(session, flt, e.key)
        elif len(pairs[e.key]) <= 1:
            out[e.key] = sum(by_pair[p] for p in pairs[e.key])
        elif len(pairs[e.key]) == 2:  # a class in both sources: |A| + |B| - |A and B|
            a, b = sorted(pairs[e.key], key=lambda p: (by_pair[p], p))
            both = _both_count(session, flt, a, b) if by_pair[a] else 0
            out[e.key] = by_pair[a] + by_pair[b] - both
        else:
            out[e.key] = _class_count(session, flt, e)
    return out


def _group_counts(session: Session, flt: PhotoFilter, grps: list[int]) -> dict[int, int]:
    """{grp: photos} in one pass over these groups' photo_group ranges (dates narrow them)."""
    if not grps:
        return {}
    t, k = flt.min_score, flt.min_count
    if _only_dates(flt) and not (flt.start or flt.end) and k == 1 and on_grid(t):
        source = groups.count_source(flt)
        q = (
            select(GroupCount.grp, func.sum(GroupCount.photos))
            .where(
                GroupCount.grp.in_(grps),
                GroupCount.source == source,
                GroupCount.bucket >= grid_bucket(t),
            )
            .group_by(GroupCount.grp)
        )
        return {g: int(n) for g, n in session.execute(q)}
    if k > group_rows.BOXES:  # the box count depends on the group's COCO members
        out: dict[int, int] = {}
        for g in grps:
            out.update(_group_counts_with(session, flt, [g], g))
        return out
    return _group_counts_with(session, flt, grps, grps[0])


def _group_counts_with(
    session: Session, flt: PhotoFilter, grps: list[int], any_grp: int
) -> dict[int, int]:
    pg = aliased(PhotoGroup, name="gc")
    conds = [*groups.score_conds(pg, flt, any_grp)]
    dates = date_conds(flt, pg.taken_at)
    # Undated rows (NO_TIME) are out of any date range: a start after it already leaves them
    # out, and a second lower bound on the key made SQLite test it row by row (6x slower).
    dated = [] if flt.start and flt.start > NO_TIME.date() else [pg.taken_at > NO_TIME]
    conds += [*dated, *dates] if dates else []
    if _only_dates(flt):  # one count per group's range: a third cheaper than a GROUP BY
        each = [select(func.count()).where(pg.grp == g, *conds).scalar_subquery() for g in grps]
        return dict(zip(grps, (int(n) for n in session.execute(select(*each)).one()), strict=True))
    conds += [pg.grp.in_(grps), pg.photo_id.in_(_filtered_ids(session, flt))]
    q = select(pg.grp, func.count()).where(*conds).group_by(pg.grp)
    return {g: int(n) for g, n in session.execute(q)}


def _pairs(flt: PhotoFilter, entry: Entry) -> list[tuple[str, str]]:
    """The entry's (label, source) classes in the filter's sources."""
    allowed = allowed_sources(flt)
    return [(lb, s) for s, labels in entry.members.items() if s in allowed for lb in labels]


def _single_counts(
    session: Session, flt: PhotoFilter, pairs: set[tuple[str, str]]
) -> dict[tuple[str, str], int]:
    """{(label, source): photos} of entries with one stored class each, in one statement (a
    statement per entry cost more to build than to run): _class_count's counts. The labels and
    sources are two IN lists (ranges of the label index); pairs outside `pairs` are dropped."""
    if not pairs:
        return {}
    labels = sorted({lb for lb, _ in pairs})
    sources = sorted({s for _, s in pairs})
    t, k = flt.min_score, flt.min_count
    if _only_dates(flt) and not (flt.start or flt.end) and k == 1 and on_grid(t):
        cc = ClassCount
        q = (
            select(cc.label, cc.source, func.sum(cc.photos))
            .where(cc.label.in_(labels), cc.source.in_(sources), cc.bucket >= grid_bucket(t))
            .group_by(cc.label, cc.source)
        )
    else:
        pc = aliased(PhotoClass, name="ec")
        conds = [pc.label.in_(labels), pc.source.in_(sources), *score_conds(pc, t, k)]
        conds += conditions.dates(flt, pc.taken_at, pc.sort_time)
        if not _only_dates(flt):
            conds.append(pc.photo_id.in_(_filtered_ids(session, flt)))
        q = select(pc.label, pc.source, func.count()).where(*conds).group_by(pc.label, pc.source)
    found = {(lb, s): int(n) for lb, s, n in session.execute(q)}
    return {p: found.get(p, 0) for p in pairs}


def _both_count(session: Session, flt: PhotoFilter, a: tuple[str, str], b: tuple[str, str]) -> int:
    """Photos that both classes a and b (two (label, source) pairs) would select within the
    filter: a's rows (the fewer) with a row of b for the same photo, one primary-key look-up
    each. A photo has one row per pair, and both rows share its date."""
    t, k = flt.min_score, flt.min_count
    pa, pb = aliased(PhotoClass, name="ea"), aliased(PhotoClass, name="eb")
    also_b = (
        select(pb.photo_id)
        .where(pb.label == b[0], pb.source == b[1], pb.photo_id == pa.photo_id)
        .where(*score_conds(pb, t, k))
        .exists()
    )
    conds = [pa.label == a[0], pa.source == a[1], *score_conds(pa, t, k), also_b]
    conds += conditions.dates(flt, pa.taken_at, pa.sort_time)
    if not _only_dates(flt):
        conds.append(pa.photo_id.in_(_filtered_ids(session, flt)))
    return int(session.scalar(select(func.count()).where(*conds)) or 0)


def _class_count(session: Session, flt: PhotoFilter, entry: Entry) -> int:
    """Photos with one of the entry's stored labels (a class in one or two sources, or a group
    of one class), counted once."""
    pairs = _pairs(flt, entry)
    if not pairs:
        return 0
    t, k = flt.min_score, flt.min_count
    plain = _only_dates(flt) and not (flt.start or flt.end)
    if len(pairs) == 1 and plain and k == 1 and on_grid(t):
        ((label, source),) = pairs
        n = func.coalesce(func.sum(ClassCount.photos), 0)
        q = select(n).where(
            ClassCount.label == label,
            ClassCount.source == source,
            ClassCount.bucket >= grid_bucket(t),
        )
        return int(session.scalar(q) or 0)
    pc = aliased(PhotoClass, name="ec")
    # One range of ix_photo_class_label per pair (an OR of equalities: SQLite reads a row-value
    # IN over (label, source) as a scan of the whole table), dates as a sort_time window there.
    one = [and_(pc.label == lb, pc.source == s) for lb, s in pairs]
    conds = [or_(*one) if len(one) > 1 else one[0], *score_conds(pc, t, k)]
    conds += conditions.dates(flt, pc.taken_at, pc.sort_time)
    if not _only_dates(flt):
        conds.append(pc.photo_id.in_(_filtered_ids(session, flt)))
    n = func.count(func.distinct(pc.photo_id)) if len(pairs) > 1 else func.count()
    return int(session.scalar(select(n).where(*conds)) or 0)


def _query_count(session: Session, flt: PhotoFilter, key: str) -> int:
    """The planner's count of the filter with the entry as its only class word, within the
    filter's own photos when it has class words."""
    q = Query(session, replace(flt, classes=(key,), match="any"))
    if not flt.classes:
        fast = q.fast_count(session)
        return int(fast if fast is not None else session.scalar(q.count()) or 0)
    sub = q.ids().subquery()
    inner = select(func.count()).select_from(sub).where(sub.c.id.in_(_filtered_ids(session, flt)))
    return int(session.scalar(inner) or 0)


# --- listing, autocomplete, detail -------------------------------------------------------


def _order(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Most photos first; on a tie categories, then groups, then classes (the broader first)."""
    return sorted(rows, key=lambda r: (-r["photos"], RANK[r["kind"]], r["name"].lower()))


def listing(session: Session, flt: PhotoFilter, kind: str | None = None) -> list[dict[str, Any]]:
    """Every class (one row per source, as search.class_counts), group and category with
    photos in the filter, most photos first. kind: only that kind. While the group rows are
    stale, groups are left out (each would be counted from photo_class, photo by photo)."""
    vocab = vocabulary.load()
    out: list[dict[str, Any]] = []
    if kind in (None, "class"):
        for row in search.class_counts(session, flt):
            entry = vocab.class_entry(row["source"], row["label"])
            key = entry.key if entry else None
            out.append({"kind": "class", "key": key, "name": row["label"], "members": 1, **row})
    wanted = [
        e
        for e in vocab.entries.values()
        if e.kind in ("group", "category") and kind in (None, e.kind)
    ]
    if not group_rows.current(session):
        wanted = [e for e in wanted if e.kind == "category"]
    found = counts(session, flt, wanted)
    out += [brief(e, found[e.key]) for e in wanted if found.get(e.key)]
    return _order(out)


def complete(
    session: Session, flt: PhotoFilter, typed: str, limit: int = 12
) -> list[dict[str, Any]]:
    """The autocomplete: entries with a name or synonym that starts with `typed` or has a word
    that does (atw.core.vocabulary.complete), and the index's classes whose label contains it
    (the CANDIDATES with most photos of all, from the counts kept at insert time: counting
    every class within the filter first cost seconds at 1M photos); those with photos in the
    filter, one per member set ("dog" the group and "Dogs" the category are one), best first:
    the name itself, names that start with it, then a word that does, then the rest; then
    most photos (a group before a class that covers as many)."""
    vocab = vocabulary.load()
    text = vocabulary.normalise(typed)
    if not text:
        return []
    found = [s.entry for s in vocab.complete(typed, CANDIDATES)]
    for row in _candidate_classes(session, flt.source, typed):
        entry = vocab.class_entry(row["source"], row["label"])
        if entry is not None:
            found.append(entry)
    best: dict[tuple[frozenset[str], frozenset[str]], tuple[tuple[int, int], Entry]] = {}
    for e in found:
        members = (frozenset(e.members["imagenet"]), frozenset(e.members["coco"]))
        rank = (_text_rank(e, text), len(e.name))
        if members not in best or rank < best[members][0]:
            best[members] = (rank, e)
    picked = sorted(best.values(), key=lambda x: x[0])[:CANDIDATES]
    n = counts(session, flt, [e for _, e in picked])
    rows = [
        (rank[0], {**brief(e, n[e.key]), "sources": _sources(e)})
        for rank, e in picked
        if n[e.key] > 0
    ]
    rows.sort(key=lambda x: (x[0], -x[1]["photos"], RANK[x[1]["kind"]], x[1]["name"].lower()))
    return [row for _, row in rows[:limit]]


CANDIDATES = 40  # entries counted for one autocomplete answer


def _candidate_classes(session: Session, source: str, typed: str) -> list[dict[str, Any]]:
    """The vocabulary's classes whose label contains `typed` and that some listed photo has,
    the CANDIDATES best as search.complete_classes ranks them (photos at any score, from
    ClassCount: only those labels' rows are read)."""
    sources = allowed_sources(PhotoFilter(source=source))
    labels = vocabulary.load().labels
    named = [{"label": lb, "source": s, "photos": 0} for s in sources for lb in labels[s]]
    hits = search.complete_classes(named, typed, len(named))
    if not hits:
        return []
    total = func.sum(ClassCount.photos)
    q = (
        select(ClassCount.source, ClassCount.label, total)
        .where(
            ClassCount.source.in_(sources), ClassCount.label.in_(sorted({r["label"] for r in hits}))
        )
        .group_by(ClassCount.source, ClassCount.label)
        .having(total > 0)
    )
    photos = {(s, lb): int(n) for s, lb, n in session.execute(q)}
    keys = [(r["source"], r["label"]) for r in hits]
    rows = [
        {"label": lb, "source": s, "photos": photos[(s, lb)]} for s, lb in keys if (s, lb) in photos
    ]
    return search.complete_classes(rows, typed, CANDIDATES)


def _text_rank(entry: Entry, text: str) -> int:
    """0: a name or synonym is the text; 1: one starts with it; 2: a word of one does; 3: one
    contains it."""
    names = [vocabulary.normalise(n) for n in (entry.name, *entry.lemmas)]
    if text in names:
        return 0
    if any(n.startswith(text) for n in names):
        return 1
    if any(f" {text}" in n for n in names):
        return 2
    return 3


def suggestions(word: str) -> list[str]:
    """Known names close to an unknown word (or the top-level categories)."""
    return [s.word for s in vocabulary.suggest(word)]


def _sources(entry: Entry) -> list[str]:
    return [s for s in ("imagenet", "coco") if entry.members[s]]


def detail(session: Session, flt: PhotoFilter, word: str) -> dict[str, Any] | None:
    """One entry (the best the word names) with its member classes, parents and children
    (each counted in the filter), its own classes (member classes that no child holds: COCO
    "dog" on dog.n.01, as a source's class: source=coco with the entry's word selects it), and
    the other entries the word names. None if none."""
    found = words.entries(word)
    if not found:
        return None
    vocab = vocabulary.load()
    entry, others = found[0], found[1:]
    children = [vocab.entries[k] for k in entry.children]
    parents = [vocab.entries[k] for k in entry.parents]
    own = _own_classes(entry, children)
    n = counts(session, flt, [entry, *children, *own])
    return {
        **brief(entry, n[entry.key]),
        "lemmas": list(entry.lemmas),
        "sources": _sources(entry),
        "member_classes": {s: list(v) for s, v in entry.members.items()},
        "parents": [brief(p, -1) | {"photos": None} for p in parents],
        "children": _order([brief(c, n[c.key]) for c in children]),
        "own": [_own_row(o, n[o.key]) for o in own],
        "others": [brief(o, -1) | {"photos": None} for o in others],
    }


def _own_classes(entry: Entry, children: list[Entry]) -> list[Entry]:
    """The entry's member classes that none of its children holds, one pseudo-entry each (the
    one label in its source; key "source:label"), for drill-down to reach every photo."""
    out = []
    for source in vocabulary.SOURCES:
        held = {lb for c in children for lb in c.members[source]}
        for label in entry.members[source]:
            if label not in held:
                members = {s: ((label,) if s == source else ()) for s in vocabulary.SOURCES}
                key = f"{source}:{label}"
                out.append(replace(entry, key=key, kind="class", members=members, children=()))
    return out


def _own_row(entry: Entry, photos: int) -> dict[str, Any]:
    """An own class as the API lists it: its label, its source (the filter narrows to it)."""
    ((source, (label,)),) = [(s, v) for s, v in entry.members.items() if v]
    row = {"kind": "class", "key": entry.key, "label": label, "name": label, "members": 1}
    return {**row, "source": source, "photos": photos}
