"""ClassCount held in memory with the class rows (atw.query.class_memory), summed from each score
bucket up: the unfiltered class picker and browser read a class's photos at a threshold on the
0.01 grid in one look, not a SQL sum over ~80,000 rows (~20 ms at a million photos, twice per
browser request: its classes, then its one-class entries).

Exact, or not used: read in the same transaction as the class rows and under the same
summary_version (ClassCount is written with photo_class, whose every write moves the version);
used only while the rows are held at the index's version (class_memory.current)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.engine import Connection

from atw.core.schema import ClassCount

Key = tuple[str, str]  # (source, label)


@dataclass(frozen=True)
class Totals:
    """keys[i]'s listed photos with its best score in bucket b or above: above[i, b] (b from 0 to
    the highest stored bucket; one more column of zeros)."""

    keys: list[Key]
    index: dict[Key, int]
    above: np.ndarray

    @property
    def nbytes(self) -> int:
        return self.above.nbytes

    def photos(self, sources: Collection[str], bucket: int) -> dict[Key, int]:
        """{(source, label): photos} with photos at bucket ≥ bucket, of these sources (the
        unfiltered picker: search.class_counts)."""
        col = self.above[:, self._column(bucket)]
        return {k: int(n) for k, n in zip(self.keys, col, strict=True) if n and k[0] in sources}

    def of(self, keys: Iterable[Key], bucket: int) -> dict[Key, int]:
        """{key: photos at bucket ≥ bucket} for these keys (0 for a key with no photos)."""
        at = self._column(bucket)
        return {
            k: int(self.above[i, at]) if (i := self.index.get(k)) is not None else 0 for k in keys
        }

    def _column(self, bucket: int) -> int:
        return min(max(bucket, 0), self.above.shape[1] - 1)


def read(conn: Connection) -> Totals | None:
    """ClassCount's rows, summed from each bucket up (None: a bucket below 0, never stored by
    atw.core.derived; SQL answers)."""
    rows = conn.execute(
        select(ClassCount.source, ClassCount.label, ClassCount.bucket, ClassCount.photos)
    ).all()
    keys = sorted({(s, lb) for s, lb, _b, _n in rows})
    index = {k: i for i, k in enumerate(keys)}
    top = max((b for _s, _l, b, _n in rows), default=0)
    lowest = min((b for _s, _l, b, _n in rows), default=0)
    if lowest < 0:
        return None
    per = np.zeros((len(keys), top + 2), dtype=np.int64)
    if rows:
        at = np.array([index[(s, lb)] for s, lb, _b, _n in rows], dtype=np.int64)
        bucket = np.array([b for _s, _l, b, _n in rows], dtype=np.int64)
        np.add.at(per, (at, bucket), np.array([n for *_x, n in rows], dtype=np.int64))
    above = np.flip(np.cumsum(np.flip(per, axis=1), axis=1), axis=1)
    return Totals(keys, index, np.ascontiguousarray(above))
