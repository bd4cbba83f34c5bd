"""The WordNet group and category counts of many photos from the class rows held in memory
(atw.query.class_memory): the class browser, its detail and the autocomplete within a radius,
a country, a folder.

Why: photo_group has one b-tree, led by the group (atw.core.group_schema), so counting ~700
groups among the ~85,000 photos within 20 km of home read every group's whole range: 74 s at a
million photos on a slow machine. The photos' ~630,000 class rows give the same counts in a
sparse product (photos × classes by classes × groups) in tens of milliseconds; with no
threshold, the groups that nest (368 of 455) in one pass over the rows (atw.query.group_tree),
and (source any) the other 87 from each photo's marks of them, computed once when the rows
are read (_Marks: one bit a group, 16 bytes a photo), else by the product on their columns.

Exact: a group's score is computed as atw.core.group_rows.rows_of stores it, in ticks (1/10,000,
the stored scores' 4 decimals, so sums are exact): "any" = max(inet, c1), "imagenet" = inet (the
ImageNet members' ticks summed, capped at 10,000), "coco" = c1 (the best COCO member's class
row: its best box), tested as atw.query.groups.score_conds tests the stored row; no score:
the photo has a member row (of the source). Only for min_count 1 (a count of boxes needs the
detections: SQL). One group's photos (a word of a search, atw.query.held_count) come from its
members' rows held class by class: the ImageNet ticks summed per photo, a COCO member ≥ t."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from atw.core.group_rows import COCO, IMAGENET, UNITS, stored_groups, threshold
from atw.query import class_memory, group_tree
from atw.query.class_memory import TICKS, Rows


def counts(
    rows: Rows, photo_ids: np.ndarray, grps: Collection[int], source: str, t: float | None
) -> dict[int, int]:
    """{grp: photos} for these stored groups among these photos (module docstring)."""
    from scipy import sparse  # not at the web process's start-up

    version = stored_groups().version
    members, coco = _members(tuple(rows.keys), version)
    floor = None if t is None else threshold(t)
    if floor is not None and floor > UNITS:  # above any score (ImageNet sums are capped)
        return {}
    picked = rows.pick(photo_ids)
    code, photo = picked.code, picked.photo
    wanted = {g for g in grps if 0 <= g < members.shape[1]}
    inet_ok, coco_ok = source in ("any", IMAGENET), source in ("any", COCO)
    out: dict[int, int] = {}
    if floor is None or floor <= 0:  # a member row of the source is enough
        keep = None if source == "any" else np.where(coco[code], coco_ok, inet_ok)
        if keep is not None:
            code, photo = code[keep], photo[keep]
        value, floor = np.ones(len(code), dtype=np.int32), 1
        nodes = _walk(rows, version)
        if nodes is not None:  # the groups that nest: one pass (atw.query.group_tree)
            tree = group_tree.tree(version)
            found = tree.counts(nodes[code], photo)
            out = {g: c for g, c in found.items() if c and g in wanted}
            wanted -= tree.grps
            if keep is None and wanted:  # the others from each photo's marks (_Marks)
                marks = _marks(rows, version)
                found = marks.counts(picked.slot)
                out.update({g: c for g, c in found.items() if c and g in wanted})
                wanted -= marks.grps
    else:  # ImageNet members add up (int32: at most 1,080 × 10,000); a COCO member ≥ t: all
        ticks = rows.ticks(picked.at)
        keep = np.where(coco[code], coco_ok & (ticks >= floor), inet_ok)
        value = np.where(coco[code], UNITS, ticks)[keep].astype(np.int32)
        code, photo = code[keep], photo[keep]
    if not wanted:
        return out
    columns = np.array(sorted(wanted), dtype=np.int64)
    if len(columns) * 4 < members.shape[1]:  # a few groups (the autocomplete, a detail page)
        members = members[:, columns]  # their columns only: a smaller product
    else:
        columns = np.arange(members.shape[1])
    n = len(picked.slot)
    start = np.zeros(n + 1, dtype=np.int64)  # each photo's rows, in the arrays' order: CSR
    np.cumsum(np.bincount(photo, minlength=n), out=start[1:])
    by_class = sparse.csr_matrix((value, code.astype(np.int32), start), shape=(n, len(rows.keys)))
    score = by_class @ members
    per = np.bincount(score.indices[score.data >= floor], minlength=members.shape[1])
    out.update({int(g): int(c) for g, c in zip(columns, per, strict=True) if c and g in wanted})
    return out


def prepare(rows: Rows) -> None:
    """Compute what counts keeps with the rows (the walk, the marks) now: in the thread that
    loads them (atw.query.class_memory), not in a request (the marks: ~0.4 s at a million)."""
    version = stored_groups().version
    if _walk(rows, version) is not None:
        _marks(rows, version)


def _walk(rows: Rows, version: str) -> np.ndarray | None:
    """Each held class's node in the groups' tree, when the rows hold each photo's classes in
    the tree's walk order (atw.query.class_memory sorts its keys so); else None."""
    memo = rows.memo.get("walk")
    if memo is None or memo[0] != version:
        tree = group_tree.tree(version)
        nodes = np.array([tree.node_of.get(k, 0) for k in rows.keys], dtype=np.int64)
        memo = rows.memo["walk"] = (version, nodes if (np.diff(nodes) >= 0).all() else None)
    return memo[1]


@dataclass(frozen=True)
class _Marks:
    """The stored groups outside the tree (grps: 87 of 455), one bit each (the i-th of
    columns), and for each held photo (by slot) the bits of those its classes belong to
    (words uint64 a photo: 16 bytes, 16 MB at a million photos)."""

    columns: np.ndarray
    bits: np.ndarray

    @property
    def grps(self) -> frozenset[int]:
        return frozenset(int(g) for g in self.columns)

    def counts(self, slots: np.ndarray) -> dict[int, int]:
        """{grp: photos} among the photos at these slots: each byte of their marks counted by
        value (256 bins; the bytes photo by photo, a copy: ~1 ms), then each value's bits."""
        used = (len(self.columns) + 7) // 8
        marks = np.ascontiguousarray(self.bits[slots].view(np.uint8)[:, :used].T)
        per_byte = np.stack([np.bincount(m, minlength=256) for m in marks])
        per = (per_byte @ _BITS).ravel()[: len(self.columns)]
        return {int(g): int(c) for g, c in zip(self.columns, per, strict=True)}


_BITS = (np.arange(256)[:, None] >> np.arange(8) & 1).astype(np.int64)  # value × bit (little)


def _marks(rows: Rows, version: str) -> _Marks:
    """The groups outside the tree and each held photo's marks of them, kept with the rows."""
    memo = rows.memo.get("marks")
    if memo is None or memo[0] != version:
        members, _ = _members(tuple(rows.keys), version)
        outside = sorted(g for g in stored_groups().keys if g not in group_tree.tree(version).grps)
        columns = np.array([g for g in outside if g < members.shape[1]], dtype=np.int64)
        words = max(1, (len(columns) + 63) // 64)
        of_class = np.zeros((len(rows.keys), words), dtype=np.uint64)
        sub = members[:, columns].tocoo()
        np.bitwise_or.at(
            of_class, (sub.row, sub.col // 64), np.uint64(1) << (sub.col % 64).astype(np.uint64)
        )
        bits = np.zeros((len(rows.start) - 1, words), dtype=np.uint64)
        step = 1 << 17  # photos a pass (a pass holds its rows' marks: ~16 MB)
        for lo in range(0, len(bits), step):
            hi = min(lo + step, len(bits))
            first = rows.start[lo:hi] - rows.start[lo]
            part = of_class[rows.code[rows.start[lo] : rows.start[hi]]]
            bits[lo:hi] = np.bitwise_or.reduceat(part, first, axis=0)
        memo = rows.memo["marks"] = (version, _Marks(columns, bits))
    return memo[1]


def photos(rows: Rows, grp: int, source: str, t: float | None) -> np.ndarray | None:
    """The ordinals (rows.by_class.ids) of the photos whose stored group grp holds at this
    source and score t, unordered, maybe repeated; None when the rows are not held class by
    class."""
    held = rows.by_class
    if held is None:
        return None
    members, coco = _members(tuple(rows.keys), stored_groups().version)
    floor = None if t is None else threshold(t)
    if grp >= members.shape[1] or (floor is not None and floor > UNITS):
        return np.empty(0, dtype=np.int32)
    allowed = (IMAGENET, COCO) if source == "any" else (source,)
    parts, inet, ticks = [], [], []
    for code in members[:, grp].tocoo().row:  # the member classes' codes
        if (COCO if coco[code] else IMAGENET) not in allowed:
            continue
        lo, hi = held.start[code], held.start[code + 1]
        photo, score = held.photo[lo:hi], held.score[lo:hi]
        tick = score if score.dtype == np.uint16 else np.rint(score * TICKS)
        if floor is None or floor <= 0:
            parts.append(photo)  # a member row of the source is enough
        elif coco[code]:
            parts.append(photo[tick >= floor])  # a COCO member ≥ t: the group holds
        else:
            inet.append(photo)
            ticks.append(tick)
    if inet:  # ImageNet members add up (exact in float64: at most 1,080 × 10,000)
        sums = np.bincount(np.concatenate(inet), np.concatenate(ticks), len(held.ids))
        parts.append(np.flatnonzero(sums >= floor))
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int32)


@cache
def _members(keys: tuple[tuple[str, str], ...], version: str) -> tuple[Any, np.ndarray]:
    """(classes × groups: 1 where the class is a member, COCO: whether each class is COCO's),
    for the held rows' class keys ((source, label)) and this atw's stored groups (version)."""
    from scipy import sparse

    stored = stored_groups()
    row, col = [], []
    for i, key in enumerate(keys):
        for g in stored.of_class.get(key, ()):
            row.append(i)
            col.append(g)
    width = max(stored.keys, default=0) + 1
    ones = np.ones(len(row), dtype=np.int32)
    matrix = sparse.csr_matrix((ones, (row, col)), shape=(len(keys), width))
    return matrix, np.array([s == COCO for s, _ in keys], dtype=bool)


class_memory.PREPARE.append(prepare)
