"""The class catalogue of a filter: classes, WordNet groups and categories with how many of the
filtered photos have each (GET /api/classes, the autocomplete, the class browser), and one
entry's members, parents and children.

An entry's count is the number of photos of the filter (its class words included) that the entry
alone would select with the filter's source, min_score and min_count (atw.query.entry_counts).
Groups and categories with the same member classes (dog.n.01 and "Dogs") have the same count."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from functools import lru_cache
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from atw.core import group_rows, vocabulary
from atw.core.schema import ClassCount
from atw.core.vocabulary import Entry
from atw.query import class_memory, search, words
from atw.query.entry_counts import counts
from atw.query.filters import PhotoFilter
from atw.query.terms import allowed_sources

KINDS = ("category", "group", "class")
RANK = {kind: i for i, kind in enumerate(KINDS)}


def word_for(entry: Entry) -> str:
    """A word that names exactly this entry in a filter: its name, else a synonym, else its
    key ("cat.n.01": the word "cat" names the domestic cat). Never one with a comma (the
    classes field splits on commas: "Sport, games & toys" is "sport")."""
    return _word_for(entry.key, entry.name, entry.lemmas)


@lru_cache(maxsize=8192)  # (as words.entries: the browser lists ~900 entries a request)
def _word_for(key: str, name: str, lemmas: tuple[str, ...]) -> str:
    for word in (name, *lemmas):
        if "," not in word and [e.key for e in words.entries(word)] == [key]:
            return word
    return key


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
    ClassCount: only those labels' rows are read), counted one of its tiers at a time (labels
    that start with the text, then those with a word that does, then the rest) until CANDIDATES
    have photos: a class of a later tier ranks after every class of an earlier one, so the
    later tiers need no count then (typing "s": the ~100 labels that start with it, not ~700)."""
    sources = allowed_sources(PhotoFilter(source=source))
    q = " ".join(typed.lower().split())
    tiers = _tiers(vocabulary.load(), sources, q)
    total = func.sum(ClassCount.photos)
    rows: list[dict[str, Any]] = []
    held = class_memory.current(session)
    totals = held.totals if held is not None else None  # ClassCount held (class_totals)
    for tier in sorted(tiers):
        pairs = tiers[tier]
        if totals is not None:
            found = [(s, lb, n) for (s, lb), n in totals.of(sorted(pairs), 0).items() if n]
        else:
            stmt = (
                select(ClassCount.source, ClassCount.label, total)
                .where(
                    ClassCount.source.in_(sources),
                    ClassCount.label.in_(sorted({lb for _s, lb in pairs})),
                )
                .group_by(ClassCount.source, ClassCount.label)
                .having(total > 0)
            )
            found = [(s, lb, n) for s, lb, n in session.execute(stmt) if (s, lb) in pairs]
        rows += [{"label": lb, "source": s, "photos": int(n)} for s, lb, n in found]
        if len(rows) >= CANDIDATES:
            break
    return search.complete_classes(rows, typed, CANDIDATES)


def _tiers(
    vocab: vocabulary.Vocabulary, sources: tuple[str, ...], q: str
) -> dict[int, set[tuple[str, str]]]:
    """The vocabulary's (source, label) pairs of these sources by their tier for the text q
    (search.label_rank), kept per text for this vocabulary (it does not change once loaded)."""
    key = (sources, q)
    kept = _TIERS.get(key)
    if kept is not None and kept[0] is vocab:
        return kept[1]
    tiers: dict[int, set[tuple[str, str]]] = defaultdict(set)
    for s in sources:
        for lb in vocab.labels[s] if q else ():
            if (tier := search.label_rank(lb, q)) is not None:
                tiers[tier].add((s, lb))
    if len(_TIERS) >= 4096:
        _TIERS.clear()
    _TIERS[key] = (vocab, tiers)
    return tiers


_TIERS: dict[tuple[tuple[str, ...], str], tuple[vocabulary.Vocabulary, Any]] = {}


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
