"""Class vocabulary: WordNet groups and everyday categories over the stored ImageNet/COCO classes.

The data is `data/vocabulary.json`, built once by `scripts/build_vocabulary.py` from WordNet 3.0
(licence: `data/WORDNET-LICENSE`); nothing here needs WordNet, Flask or SQLAlchemy.

Entries (`Entry.kind`):
- **class**: one stored class, a WordNet synset with no group below it (ImageNet "Sussex spaniel");
  a COCO class shares the node of the same ImageNet object ("zebra" holds both sources' labels).
- **group**: a WordNet synset above classes (dog.n.01, seashore's parents, …); its members are
  every class below it, from both sources. A COCO class mapped onto a group synset is a member
  of that group ("dog": the COCO class and the 118 ImageNet breeds).
- **category**: a curated everyday category ("category:dogs", "Food", …). Top-level categories
  do not overlap; sub-categories refine one for drill-down.

Keys are stable strings: a synset name ("dog.n.01") or "category:<name>".

Words (`resolve`): input is normalised (Unicode folded, case-insensitive, "_" and "-" as spaces,
apostrophes and dots dropped). In order, the first rule that matches decides:
1. a key ("dog.n.01", "category:dogs");
2. a curated word: a category's words ("dogs", "food", "people") or a reviewed alias for a word
   WordNet files elsewhere ("beach" → seashore, "plane" → aircraft, not the carpenter's plane);
3. a stored class label, exact case ("Cardigan" the corgi, "cardigan" the sweater);
4. a stored class label, any case;
5. a WordNet lemma of a group or class ("automobile" → car.n.01, "sea coast" → seashore);
6. rules 2, 4 and 5 again for the singular ("geese" → goose, "sports cars" → sports car).
Ambiguity: a rule may match several entries ("kite": ImageNet's bird and COCO's toy; "bike":
the bicycle and the motorcycle groups; "CARDIGAN": corgi and sweater); all are returned, the
most populated first. A filter on the word matches their union; autocomplete lists them
separately (each has its own key) so that a person can pick one. Senses outside the stored
classes do not exist here: "mouse" is only the computer mouse (no rodent class).
Unknown words get `suggest()`: close names, else the top-level categories; never nothing.

A photo's score for a group or category: atw.core.group_scores.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Literal

SOURCES = ("imagenet", "coco")
DATA_FILE = Path(__file__).resolve().parent / "data" / "vocabulary.json"
FORMAT = 1
CATEGORY_PREFIX = "category:"
_EXPAND_SHARE = 0.5  # a category's drill-down opens a group that holds more than this share

Kind = Literal["class", "group", "category"]
Members = Mapping[str, tuple[str, ...]]
_SPACE = re.compile(r"[_\-‐‑–—]")
_DROP = re.compile(r"['’.]")


@dataclass(frozen=True)
class Entry:
    """A class, WordNet group or category; members are stored labels per source."""

    key: str
    kind: Kind
    name: str
    lemmas: tuple[str, ...]
    parents: tuple[str, ...]
    children: tuple[str, ...]
    members: Members

    @property
    def size(self) -> int:
        """Number of member classes over both sources."""
        return sum(len(v) for v in self.members.values())


@dataclass(frozen=True)
class Suggestion:
    """A known name close to what was typed, and the entry it names."""

    word: str
    entry: Entry


def normalise(text: str) -> str:
    """The comparison form of a word: folded, lower case, single spaces, no "_-'." marks."""
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(_DROP.sub("", _SPACE.sub(" ", text.casefold())).split())


def content_version(data: Mapping) -> str:
    """The data file's version: a hash of everything but its "version" (the build's rule)."""
    body = {k: v for k, v in data.items() if k != "version"}
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "wn3.0-" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


class Vocabulary:
    """The loaded vocabulary: entries by key, word resolution, stored class → its groups."""

    def __init__(self, data: Mapping) -> None:
        if data.get("format") != FORMAT:
            raise ValueError(f"vocabulary format {data.get('format')!r}, expected {FORMAT}")
        self.version: str = data["version"]
        self._completed: dict[tuple[str, int], tuple[Suggestion, ...]] = {}
        self.labels: dict[str, tuple[str, ...]] = {
            s: tuple(row[0] for row in data[s]) for s in SOURCES
        }
        nodes: Mapping[str, Mapping] = data["nodes"]
        self._members: dict[str, Members] = {}
        for key, node in nodes.items():
            self._members[key] = self._labels_of(node)
        for cat in data["categories"]:
            self._members[cat["key"]] = self._labels_of(cat)
        # Member sets as bit masks (ImageNet index i → bit i, COCO index j → bit 1000 + j).
        records = {**nodes, **{cat["key"]: cat for cat in data["categories"]}}
        offset = len(self.labels["imagenet"])
        self._sets: dict[str, int] = {
            key: sum(1 << i for i in r["imagenet"]) | sum(1 << offset + j for j in r["coco"])
            for key, r in records.items()
        }
        self._size = {key: mask.bit_count() for key, mask in self._sets.items()}
        self._node_keys = tuple(nodes)
        kids: dict[str, list[str]] = {}
        for key, node in nodes.items():
            for parent in node["parents"]:
                kids.setdefault(parent, []).append(key)
        self.entries: dict[str, Entry] = {}
        for key, node in nodes.items():
            self.entries[key] = Entry(
                key=key,
                kind="group" if key in kids else "class",
                name=node["name"],
                lemmas=tuple(node["lemmas"]),
                parents=tuple(node["parents"]),
                children=self._node_children(kids.get(key, []), kids),
                members=self._members[key],
            )
        subs: dict[str, list[str]] = {}
        for cat in data["categories"]:
            if cat["parent"]:
                subs.setdefault(cat["parent"], []).append(cat["key"])
        self.categories: tuple[str, ...] = tuple(c["key"] for c in data["categories"])
        self.top_categories: tuple[str, ...] = tuple(
            c["key"] for c in data["categories"] if not c["parent"]
        )
        for cat in data["categories"]:
            self.entries[cat["key"]] = Entry(
                key=cat["key"],
                kind="category",
                name=cat["name"],
                lemmas=tuple(cat["words"]),
                parents=(cat["parent"],) if cat["parent"] else (),
                children=self._category_children(cat["key"], subs.get(cat["key"], []), kids),
                members=self._members[cat["key"]],
            )
        self._index(data)

    def members(self, key: str) -> Members:
        """Member labels per source of the entry with this key."""
        return self._members[key]

    def _labels_of(self, record: Mapping) -> Members:
        return MappingProxyType({s: tuple(self.labels[s][i] for i in record[s]) for s in SOURCES})

    def _collapse(self, key: str, kids: Mapping[str, list[str]]) -> str:
        """Skip a chain of groups with one child each and the same members."""
        while len(kids.get(key, [])) == 1 and self._sets[kids[key][0]] == self._sets[key]:
            key = kids[key][0]
        return key

    def _order(self, keys: Iterable[str]) -> tuple[str, ...]:
        return tuple(sorted(set(keys), key=lambda k: (-self._size[k], k)))

    def _node_children(self, children: list[str], kids: Mapping[str, list[str]]) -> tuple[str, ...]:
        return self._order(self._collapse(c, kids) for c in children)

    def _category_children(
        self, key: str, subs: list[str], kids: Mapping[str, list[str]]
    ) -> tuple[str, ...]:
        """Sub-categories, then the largest groups inside the category, big ones opened up."""
        outside, sets = ~self._sets[key], self._sets
        inside = {k for k in self._node_keys if not sets[k] & outside}
        found = {
            self._collapse(k, kids)
            for k in inside
            if not any(p in inside for p in self.entries[k].parents)
        }
        while big := [k for k in found if self._size[k] > _EXPAND_SHARE * self._size[key]]:
            for k in big:
                found.discard(k)
                found |= {self._collapse(c, kids) for c in kids.get(k, [])}
        same_as_sub = {self._sets[s] for s in subs}
        groups = [k for k in found if self._sets[k] not in same_as_sub]
        return tuple(subs) + self._order(groups)

    def _index(self, data: Mapping) -> None:
        self._label_exact: dict[str, list[str]] = {}
        self._label_norm: dict[str, list[str]] = {}
        self._class_keys: dict[tuple[str, str], str] = {}
        for source in SOURCES:
            for label, key, *_ in data[source]:  # ImageNet rows also hold the wnid
                self._class_keys[(source, label)] = key
                self._label_exact.setdefault(label, []).append(key)
                self._label_norm.setdefault(normalise(label), []).append(key)
        self._curated: dict[str, tuple[str, ...]] = {}  # category words and aliases
        for cat in data["categories"]:
            for word in (*cat["words"], cat["name"], cat["key"][len(CATEGORY_PREFIX) :]):
                self._curated.setdefault(normalise(word), (cat["key"],))
        for word, keys in data["aliases"].items():
            self._curated.setdefault(normalise(word), tuple(keys))
        self._lemma: dict[str, list[str]] = {}
        for key, node in data["nodes"].items():
            for lemma in node["lemmas"]:
                self._lemma.setdefault(normalise(lemma), []).append(key)
        self._plurals = {normalise(p): normalise(s) for p, s in data["plurals"].items()}
        self._groups_of: dict[tuple[str, str], tuple[str, ...]] = {}
        containing: dict[tuple[str, str], list[str]] = {}
        for key, entry in self.entries.items():
            if entry.kind != "class":
                for source, labels in entry.members.items():
                    for label in labels:
                        containing.setdefault((source, label), []).append(key)
        for pair, keys in containing.items():
            self._groups_of[pair] = self._order(keys)
        self._top_of = {
            (s, label): key
            for key in self.top_categories
            for s, labels in self._members[key].items()
            for label in labels
        }
        names: dict[str, str] = {}
        for entry in self.entries.values():
            for word in (entry.name, *entry.lemmas):
                names.setdefault(normalise(word), word)
        self._names = names  # normalised → display form, for suggestions and completion

    # -- words ------------------------------------------------------------------------------

    def get(self, key: str) -> Entry | None:
        """The entry with this key, or None."""
        return self.entries.get(key.strip().lower())

    def resolve(self, word: str) -> tuple[Entry, ...]:
        """Every entry the word names, best first (rules in the module docstring); () if none."""
        if entry := self.get(word):
            return (entry,)
        w = normalise(word)
        if not w:
            return ()
        if w in self._curated:
            return self._entries(self._curated[w])
        exact = " ".join(word.split())
        if exact in self._label_exact:
            return self._entries(self._label_exact[exact])
        for form in (w, *self._singulars(w)):
            if found := self._by_form(form):
                return found
        return ()

    def _by_form(self, w: str) -> tuple[Entry, ...]:
        for table in (self._curated, self._label_norm, self._lemma):
            if w in table:
                return self._entries(table[w])
        return ()

    def _entries(self, keys: Iterable[str]) -> tuple[Entry, ...]:
        return tuple(self.entries[k] for k in self._order(keys))

    def _singulars(self, w: str) -> list[str]:
        """Singular forms of a phrase: WordNet's irregular plurals, then English suffix rules."""
        *head, last = w.split(" ")
        lasts = [self._plurals[last]] if last in self._plurals else []
        if len(last) > 3 and last.endswith("ies"):
            lasts.append(last[:-3] + "y")
        if len(last) > 3 and re.search(r"(s|x|z|ch|sh)es$", last):
            lasts.append(last[:-2])
        if len(last) > 2 and last.endswith("s") and not last.endswith("ss"):
            lasts.append(last[:-1])
        whole = [self._plurals[w]] if w in self._plurals else []
        return whole + [" ".join([*head, form]) for form in lasts]

    def suggest(self, word: str, limit: int = 8) -> tuple[Suggestion, ...]:
        """Known names close to an unknown word; the top-level categories if none is close."""
        w = normalise(word)
        forms = [w, *self._singulars(w)] if w else []
        close = difflib.get_close_matches(w, self._names, n=limit * 2, cutoff=0.75) if w else []
        token = [n for n in self._names for f in forms if n.startswith(f) or f" {f}" in n]
        out: list[Suggestion] = []
        seen: set[str] = set()
        for name in [*close, *sorted(set(token), key=len)]:
            for entry in self.resolve(name):
                if entry.key not in seen and len(out) < limit:
                    seen.add(entry.key)
                    out.append(Suggestion(self._names[name], entry))
        if not out:
            tops = self.top_categories[:limit]
            out = [Suggestion(self.entries[k].name, self.entries[k]) for k in tops]
        return tuple(out)

    def complete(self, prefix: str, limit: int = 20) -> tuple[Suggestion, ...]:
        """Entries with a name or synonym starting with the prefix: categories, larger first.
        Kept per prefix (the vocabulary does not change once loaded; typing "s" scans ~6,000
        names: ~8 ms)."""
        p = normalise(prefix)
        if not p:
            return ()
        kept = self._completed.get((p, limit))
        if kept is None:
            if len(self._completed) >= 4096:
                self._completed.clear()
            kept = self._completed[(p, limit)] = self._complete(p, limit)
        return kept

    def _complete(self, p: str, limit: int) -> tuple[Suggestion, ...]:
        hits: dict[str, str] = {}
        for name, display in self._names.items():
            if name.startswith(p) or f" {p}" in name:
                for entry in self._by_form(name):
                    hits.setdefault(entry.key, display)
        rank = {"category": 0, "group": 1, "class": 1}
        keys = sorted(hits, key=lambda k: (rank[self.entries[k].kind], -self.entries[k].size, k))
        return tuple(Suggestion(hits[k], self.entries[k]) for k in keys[:limit])

    # -- classes and groups -----------------------------------------------------------------

    def class_entry(self, source: str, label: str) -> Entry | None:
        """The node of a stored class (which may be a group: COCO "dog" is dog.n.01)."""
        key = self._class_keys.get((source, label))
        return self.entries[key] if key else None

    def groups_of(self, source: str, label: str) -> tuple[str, ...]:
        """Keys of every group and category holding a stored class, largest first."""
        return self._groups_of.get((source, label), ())

    def top_category(self, source: str, label: str) -> str | None:
        """The one top-level category holding a stored class (a chart's stack), or None."""
        return self._top_of.get((source, label))

    def union(self, entries: Iterable[Entry]) -> dict[str, frozenset[str]]:
        """Member labels per source of several entries (an ambiguous word's senses)."""
        got: dict[str, set[str]] = {s: set() for s in SOURCES}
        for entry in entries:
            for s in SOURCES:
                got[s] |= set(entry.members[s])
        return {s: frozenset(v) for s, v in got.items()}


def load(path: Path | None = None) -> Vocabulary:
    """The vocabulary from its data file (default: the committed one), read once per process."""
    return _load(Path(path or DATA_FILE).resolve())


@cache
def _load(path: Path) -> Vocabulary:
    return Vocabulary(json.loads(path.read_text(encoding="utf-8")))


def version() -> str:
    """The data file's version, stored as provenance with derived group rows."""
    return load().version


def resolve(word: str) -> tuple[Entry, ...]:
    return load().resolve(word)


def suggest(word: str, limit: int = 8) -> tuple[Suggestion, ...]:
    return load().suggest(word, limit)


def groups_of(source: str, label: str) -> tuple[str, ...]:
    return load().groups_of(source, label)
