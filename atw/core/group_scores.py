"""Group scores: one photo's score for a WordNet group or category, from its stored label rows.

Rows are (source, stored label, score): an ImageNet Label row, or one COCO Detection row per box
(PhotoClass rows can be expanded to their score, s2…s5). For the entry's member classes:
- ImageNet: the sum of the stored probabilities of member classes, capped at 1. Softmax
  probabilities of distinct classes add up, so this is P(some member class); only the top 5
  classes with p ≥ 0.02 are stored, so it is a lower bound.
- COCO: the best member detection score; `boxes` keeps the 5 best member detections (best
  first) and `n` counts them all, so "at least k objects ≥ t" is boxes[k-1] ≥ t for k ≤ 5.
- A group with members in both sources: the max of the two. A threshold t matches score ≥ t.
For a class entry the same rules give its own stored score (two sources for e.g. "zebra").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from atw.core.vocabulary import Vocabulary, load

Row = tuple[str, str, float]


@dataclass(frozen=True)
class GroupScore:
    """A photo's score for one group or category (see the module docstring)."""

    score: float
    imagenet: float | None
    coco: float | None
    boxes: tuple[float, ...]
    n: int


def score_rows(rows: Iterable[Row]) -> GroupScore | None:
    """The score of rows that are all members of one entry; None for no row."""
    probs: list[float] = []
    boxes: list[float] = []
    for source, _, score in rows:
        if source == "imagenet":
            probs.append(score)
        elif source == "coco":
            boxes.append(score)
    if not probs and not boxes:
        return None
    boxes.sort(reverse=True)
    imagenet = min(1.0, sum(probs)) if probs else None
    coco = boxes[0] if boxes else None
    best = max(v for v in (imagenet, coco) if v is not None)
    return GroupScore(best, imagenet, coco, tuple(boxes[:5]), len(boxes))


def group_score(
    key: str, rows: Iterable[Row], vocab: Vocabulary | None = None
) -> GroupScore | None:
    """One photo's score for the entry with this key; None when no row is a member."""
    members = (vocab or load()).members(key)
    sets = {source: frozenset(labels) for source, labels in members.items()}
    return score_rows(r for r in rows if r[1] in sets.get(r[0], ()))


def photo_groups(rows: Iterable[Row], vocab: Vocabulary | None = None) -> dict[str, GroupScore]:
    """Scores of every group and category that a photo's rows touch: its group rows."""
    vocab = vocab or load()
    by_key: dict[str, list[Row]] = {}
    for row in rows:
        for key in vocab.groups_of(row[0], row[1]):
            by_key.setdefault(key, []).append(row)
    return {key: score for key, got in by_key.items() if (score := score_rows(got))}
