"""The stored groups that nest (any two are disjoint or one holds the other) as a tree over the
classes, so that counting them among many photos is one pass over the photos' class rows
(atw.query.group_memory), not a product of photos × classes × groups.

How: the groups are taken biggest first, each one that nests with those taken so far (WordNet's
hypernyms mostly do: 368 of this atw's 455 stored groups, 9,701 of their 12,118 class links).
Their tree, walked depth first, orders the classes so that each taken group is a run of them,
and atw.query.class_memory holds each photo's rows in that order. A photo holds a group when it
has a row inside the group's run; counted for every group at once, as for colours in subtrees:
+1 at each row's node (the smallest taken group that holds its class), -1 at the lowest common
node of each two rows next to each other in a photo, and a group's count is the sum over its
subtree (a run of the nodes, in the same depth-first order). Exact: in a photo, the rows inside a
subtree are next to each other, so they add 1 less than their number, minus 1 less than that
number. The other groups are counted by the product (group_memory)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from atw.core.group_rows import StoredGroups, stored_groups

Key = tuple[str, str]  # (source, label), as the held rows key a class


@dataclass(frozen=True)
class Tree:
    """Nodes in depth-first order (0: the root, no group): grp[n] is node n's stored group,
    end[n] one past its subtree's last node, lca[a, b] the lowest node holding both; node_of:
    each class's smallest taken group's node (0 for a class in none); grps: the taken ones."""

    grp: np.ndarray
    end: np.ndarray
    lca: np.ndarray
    node_of: dict[Key, int]
    grps: frozenset[int]

    def order(self, key: Key) -> tuple[int, Key]:
        """Sort key of a class: its node's place in the walk, then the class."""
        return self.node_of.get(key, 0), key

    def counts(self, node: np.ndarray, photo: np.ndarray) -> dict[int, int]:
        """{grp: photos} of each taken group among rows whose classes are at these nodes, of
        these photos (ordinals, grouped), each photo's rows in walk order (module docstring)."""
        n = len(self.grp)
        net = np.bincount(node, minlength=n)
        same = photo[1:] == photo[:-1]
        net -= np.bincount(self.lca[node[:-1][same], node[1:][same]], minlength=n)
        below = np.concatenate(([0], np.cumsum(net)))
        per = below[self.end] - below[np.arange(n)]
        return {int(g): int(c) for g, c in zip(self.grp[1:], per[1:], strict=True)}


def tree(version: str) -> Tree:
    """The tree of this atw's stored groups (version: stored_groups().version, the cache key)."""
    return _tree(version)


@cache
def _tree(version: str) -> Tree:
    stored = stored_groups()
    assert stored.version == version, (stored.version, version)
    return _build(stored)


def _build(stored: StoredGroups) -> Tree:
    members: dict[int, set[Key]] = {g: set() for g in stored.keys}
    for key, grps in stored.of_class.items():
        for g in grps:
            members[g].add(key)
    taken: list[int] = []
    parent: dict[int, int] = {}  # grp -> the smallest taken group holding it (0: the root)
    for g in sorted(members, key=lambda g: (-len(members[g]), g)):  # biggest first
        holders = [h for h in taken if members[g] <= members[h]]
        if all(h in holders or not (members[g] & members[h]) for h in taken):
            parent[g] = min(holders, key=lambda h: len(members[h]), default=0)
            taken.append(g)  # (bigger ones come first: none of them is inside g)
    children: dict[int, list[int]] = {0: []}
    for g in taken:
        children.setdefault(g, [])
        children[parent[g]].append(g)
    order: list[int] = []  # grps depth first from the root (0)
    stack = [0]
    while stack:
        g = stack.pop()
        order.append(g)
        stack.extend(sorted(children[g], reverse=True))
    node = {g: i for i, g in enumerate(order)}
    n = len(order)
    up = np.array([node[parent[g]] if g else 0 for g in order], dtype=np.int32)
    depth = np.zeros(n, dtype=np.int32)
    for i in range(1, n):  # a parent comes before its children
        depth[i] = depth[up[i]] + 1
    end = np.arange(1, n + 1)
    for i in range(n - 1, 0, -1):  # a subtree ends where its last child's does
        end[up[i]] = max(end[up[i]], end[i])
    a, b = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    while (a != b).any():  # the deeper of each pair steps up until they meet
        deeper = depth[a] >= depth[b]
        step = (a != b) & deeper
        a = np.where(step, up[a], a)
        step = (a != b) & ~deeper
        b = np.where(step, up[b], b)
    node_of: dict[Key, int] = {}
    for key, grps in stored.of_class.items():
        mine = [g for g in grps if g in node]
        if mine:
            node_of[key] = max(node[g] for g in mine)  # the deepest: the smallest holding it
    return Tree(
        grp=np.array(order, dtype=np.int64),
        end=end.astype(np.int64),
        lca=a.astype(np.int16 if n < 2**15 else np.int32),
        node_of=node_of,
        grps=frozenset(taken),
    )
