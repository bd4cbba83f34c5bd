"""Fails on any import cycle among the modules of atw and pipelines (run by `make lint`).

import-linter's acyclic_siblings contract (pyproject.toml) compares sibling modules and packages;
this check looks at single modules, so it also sees a package's __init__ importing a module that
imports the package back, and imports inside functions (grimp records those too). Usage:
    python scripts/check_import_cycles.py [package …]      (default: atw pipelines)
The packages are looked up from the current directory first (as lint-imports does): run it
from the project root, or from a copy's root to check the copy."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable

import grimp

DEFAULT_PACKAGES = ("atw", "pipelines")


def import_cycles(packages: Iterable[str]) -> list[list[str]]:
    """Every cycle, as the modules of one strongly connected component (sorted), found over the
    import graph that grimp builds from the packages' source (external packages left out)."""
    graph = grimp.build_graph(*packages, cache_dir=None)
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in sorted(graph.modules)}
    return [sorted(c) for c in _components(edges) if len(c) > 1 or c[0] in edges[c[0]]]


def _components(edges: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components, iteratively (no recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        m = stack.pop()
                        on_stack.discard(m)
                        comp.append(m)
                        if m == node:
                            break
                    out.append(comp)
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(edges.get(child, []))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return out


def main(argv: list[str]) -> int:
    sys.path.insert(0, os.getcwd())
    packages = argv or list(DEFAULT_PACKAGES)
    cycles = import_cycles(packages)
    for cycle in cycles:
        print("import cycle: " + " ↔ ".join(cycle))
    if cycles:
        print(f"{len(cycles)} import cycle(s) in {', '.join(packages)}: break each one")
        return 1
    print(f"no import cycle in {', '.join(packages)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
