"""Class words of a filter: what each word names (classes, WordNet groups, categories: see
atw.core.vocabulary for the rules), the refusal of an unknown word with suggestions, the words
in the filter's description, and the atoms the SQL is built from.

A word names one entry, or several when it is ambiguous ("kite": the bird and the toy); the
filter matches a photo that matches any of them. Each entry becomes atoms: a class is its stored
labels (one per source: COCO "zebra" and ImageNet "zebra" alike), a group or category with two
or more member classes is its stored group (atw.core.group_rows: grp), a group of one class is
that class. A COCO class that WordNet files as a group ("dog", "person", "car", "bird", "cat")
is the group: "dog" matches COCO dogs and the 118 ImageNet breeds; source=coco narrows it to the
COCO detections. A (known) word also matches a stored label spelt exactly so in a source that
has no vocabulary class of that name, as before groups (a labeller with other class names)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from atw.core import group_rows, vocabulary
from atw.core.vocabulary import Entry
from atw.query.rules import FilterError

SUGGESTIONS = 8


@dataclass(frozen=True)
class Atom:
    """One thing the SQL looks for: a stored group (grp) or a class label in one source."""

    grp: int | None = None
    label: str | None = None
    source: str | None = None


def entries(word: str) -> tuple[Entry, ...]:
    """The vocabulary entries a word names, best first; () if none."""
    return _entries(word)


@lru_cache(maxsize=4096)
def _entries(word: str) -> tuple[Entry, ...]:
    return vocabulary.load().resolve(word)


def check(classes: tuple[str, ...]) -> None:
    """Raise FilterError("classes") naming the first word the vocabulary does not know, with
    close names (or the top-level categories) as suggestions."""
    for word in classes:
        if not entries(word):
            vocab = vocabulary.load()
            found = vocab.suggest(word, SUGGESTIONS)
            names = tuple(dict.fromkeys(s.word for s in found))
            if [s.entry.key for s in found] == list(vocab.top_categories[:SUGGESTIONS]):
                hint = f"nothing close: try a category ({', '.join(names)}, …)"
            else:
                hint = f"did you mean {', '.join(names)}?"
            raise FilterError(
                "classes",
                f"classes: no class or group called {word!r}; {hint}",
                f"no class or group called {word!r}; {hint}",
                names,
            )


def atoms(word: str) -> tuple[Atom, ...]:
    """What the SQL looks for to match this word (a union; see the module docstring)."""
    return _atoms(word)


@lru_cache(maxsize=4096)
def _atoms(word: str) -> tuple[Atom, ...]:
    groups = group_rows.stored_groups()
    vocab = vocabulary.load()
    out: dict[Atom, None] = {}
    for entry in entries(word):
        grp = groups.ids.get(entry.key)
        if grp is not None:
            out[Atom(grp=grp)] = None
            continue
        for source, labels in entry.members.items():
            for label in labels:
                out[Atom(label=label, source=source)] = None
    # The word as a stored label, where the vocabulary has no class of that name (a labeller
    # of other classes): such labels still match exactly, as before the vocabulary.
    text = " ".join(word.split())
    for source in vocabulary.SOURCES:
        if text not in vocab.labels[source]:
            out[Atom(label=text, source=source)] = None
    return tuple(out)


def coco_labels(word: str) -> frozenset[str]:
    """The COCO classes whose boxes belong to the word (its groups' COCO members too)."""
    groups = group_rows.stored_groups()
    out: set[str] = set()
    for a in atoms(word):
        if a.grp is not None:
            out |= set(groups.coco[a.grp])
        elif a.source == group_rows.COCO and a.label is not None:
            out.add(a.label)
    return frozenset(out)


def name(word: str) -> str:
    """How the filter's description names a word: a class by its name ("beach" → seashore), a
    group by its name marked as one ("dog (group)": the breeds too), a category by its name
    ("dogs", "landscape & nature"); an ambiguous word as typed."""
    found = entries(word)
    if len(found) != 1:
        return word
    entry = found[0]
    if entry.kind == "group":
        return f"{entry.name} (group)"
    if entry.kind == "category":
        return entry.name.lower()
    return entry.name
