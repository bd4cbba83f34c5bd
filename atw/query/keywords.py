"""Python keyword values → the filter words parse() reads → a PhotoFilter (the notebook API).

Every word that atw.query.filters.parse reads is accepted, under the same name, so a filter word
added there (a place, a trip, …) works here without a change. Values may be what a URL carries
(text) or Python's own: a date (or datetime, or pandas Timestamp: its day), a number, a bool (the
word of that choice: has_gps=True is "yes", estimated=False is "exclude"), a list, tuple or set
(its items comma-joined: classes; a set's sorted), a path (folder). None leaves a word out. A
name parse() does not read is refused (a typo must not widen the filter silently)."""

from __future__ import annotations

import difflib
import numbers
import os
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from atw.query.filters import PARAMS, PhotoFilter, parse
from atw.query.rules import FilterError


def words() -> tuple[str, ...]:
    """The filter words parse() reads, in PhotoFilter's order."""
    return tuple(PARAMS)


def to_args(values: Mapping[str, Any]) -> dict[str, str]:
    """The query-string args for these Python values (None values left out). Raises
    FilterError for a word parse() does not read, or a value that has no text form."""
    out: dict[str, str] = {}
    for name, value in values.items():
        if name not in PARAMS:
            near = difflib.get_close_matches(name, list(PARAMS), n=3, cutoff=0.6)
            hint = f" (did you mean {' or '.join(near)}?)" if near else ""
            raise FilterError(
                name,
                f"{name} is not a filter word{hint}; the words: {', '.join(PARAMS)}",
                f"not a filter word{hint}",
            )
        if value is None:
            continue
        out[name] = _text(name, value)
    return out


def filter_of(values: Mapping[str, Any]) -> PhotoFilter:
    """The PhotoFilter of these Python values, through parse() (the API's own checks, the same
    FilterError naming the word at fault)."""
    return parse(to_args(values))


def _text(name: str, value: Any) -> str:
    """One value as the text parse() reads for the word `name`."""
    if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
        value = value.item()  # a NumPy scalar (numpy.bool_, int64, datetime64) as Python's
    if isinstance(value, bool):
        kind = PARAMS[name]
        choice = [w for w, v in kind.items() if v is value] if isinstance(kind, Mapping) else []
        if not choice:
            raise FilterError(name, f"{name} takes no yes/no value, got {value!r}")
        return str(choice[0])
    if isinstance(value, str):
        return value
    if isinstance(value, os.PathLike):  # a folder
        return os.fspath(value)
    if isinstance(value, datetime):  # before date: a datetime is a date too
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, numbers.Number):
        return str(value)
    if isinstance(value, set | frozenset):  # no order of its own: sorted, so it is repeatable
        return ",".join(sorted(_text(name, item) for item in value))
    if isinstance(value, Iterable):
        return ",".join(_text(name, item) for item in value)
    raise FilterError(name, f"{name}: no text form for {value!r} (a {type(value).__name__})")
