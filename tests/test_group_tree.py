"""The stored groups' tree (atw.query.group_tree): each taken group is a run of the classes in
walk order, the groups it leaves out are the ones that do not nest, and group counts from a
pass over rows in walk order (the others from each photo's marks) equal the product's
(group_memory with the rows in another order) and a reference in Python over random photos of
this atw's real classes."""

from __future__ import annotations

import numpy as np
import pytest

from atw.core.group_rows import COCO, IMAGENET, stored_groups
from atw.query import class_memory, group_memory, group_tree

STORED = stored_groups()
TREE = group_tree.tree(STORED.version)
CLASSES = sorted(STORED.of_class)


def members(g: int) -> set[tuple[str, str]]:
    return {k for k, gs in STORED.of_class.items() if g in gs}


def test_each_taken_group_is_a_run_of_its_subtree_and_the_rest_do_not_nest():
    node = {int(g): i for i, g in enumerate(TREE.grp)}
    for g in TREE.grps:
        lo, hi = node[g], TREE.end[node[g]]
        assert {k for k, n in TREE.node_of.items() if lo <= n < hi} == members(g), g
    taken = [members(g) for g in TREE.grps]
    for g in set(STORED.keys) - TREE.grps:  # left out: it crosses a taken group
        m = members(g)
        assert any(m & t and not m <= t and not t <= m for t in taken), g
    assert len(TREE.grps) > len(STORED.keys) / 2  # most of WordNet's groups nest
    for a in range(0, len(TREE.grp), 7):  # the lowest common node holds both, none below does
        for b in range(0, len(TREE.grp), 5):
            c = int(TREE.lca[a, b])
            assert c <= min(a, b) and TREE.end[c] > max(a, b)
            assert not any(c < d <= min(a, b) and TREE.end[d] > max(a, b) for d in (a, b))


def held(photos: list[list[tuple[str, str]]], keys: list[tuple[str, str]]) -> class_memory.Rows:
    """Rows of these photos (ids 1..n; each a list of classes), the keys in this order."""
    code_of = {k: i for i, k in enumerate(keys)}
    pid, code = [], []
    for i, classes in enumerate(photos, start=1):
        for c in sorted({code_of[k] for k in classes}):  # each photo's rows in keys order
            pid.append(i)
            code.append(c)
    pid_a = np.array(pid, dtype=np.int64)
    first = np.flatnonzero(np.r_[True, pid_a[1:] != pid_a[:-1]])
    ids = pid_a[first]
    slot = np.full(len(photos) + 1, -1, dtype=np.int32)
    slot[ids] = np.arange(len(ids), dtype=np.int32)
    start = np.append(first, len(pid_a)).astype(np.int64)
    score = np.full(len(pid_a), 5000, dtype=np.uint16)
    return class_memory.Rows(("test", 1), slot, start, np.array(code, dtype=np.int16), score, keys)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("source", ["any", IMAGENET, COCO])
def test_counts_from_the_walk_equal_the_product_and_the_reference(seed, source):
    r = np.random.default_rng(seed)
    photos = [
        [CLASSES[int(j)] for j in r.integers(0, len(CLASSES), int(r.integers(0, 9)))]
        for _ in range(3000)
    ]
    photos += [[k for k in CLASSES if 1 in STORED.of_class[k]]]  # every member of a group
    every = set(STORED.keys)
    walked = held(photos, sorted(CLASSES, key=TREE.order))
    shuffled = held(photos, [CLASSES[int(i)] for i in r.permutation(len(CLASSES))])
    ids = np.arange(len(photos) + 1)
    assert group_memory._walk(walked, STORED.version) is not None
    assert group_memory._walk(shuffled, STORED.version) is None  # not in walk order: product
    got = group_memory.counts(walked, ids, every, source, None)
    assert got == group_memory.counts(shuffled, ids, every, source, None)
    assert got == group_memory.counts(walked, ids, every, source, 0.0)
    allowed = (IMAGENET, COCO) if source == "any" else (source,)
    want: dict[int, int] = {}
    for classes in photos:
        for g in {g for k in classes if k[0] in allowed for g in STORED.of_class[k]}:
            want[g] = want.get(g, 0) + 1
    assert got == want
    if source == "any":  # the groups outside the tree from each photo's marks, not the product
        assert group_memory._marks(walked, STORED.version).grps == every - TREE.grps
    few = sorted(every)[::40]  # a few groups: taken ones and the product's columns
    assert group_memory.counts(walked, ids, few, source, None) == {
        g: n for g, n in want.items() if g in few
    }
