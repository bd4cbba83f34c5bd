"""The skip policy: under CI=true a skipped or xfailed test fails the run, unless it is listed
here, by exact test id, with the reason it must give and why that skip is fine.

Missing test data is never a reason: a test that needs ../shared calls tests.conftest.need_shared,
which fails with the path it looked for. tests/conftest.py applies this list (its pytest hooks);
tests/test_test_policy.py checks that it does."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

CI_VALUES = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Allowed:
    nodeid: str  # exact test id, as pytest prints it from the project root
    reason: str  # regular expression the skip's reason must match (re.match)
    why: str


# Rows of ../shared/photos/exif that are not images Pillow can open (the folder's INDEX.csv, an
# empty file, two files with broken headers): exiftool still lists them, read_exif has nothing
# to compare. Any other file of that folder that Pillow stops opening fails the run.
_NOT_IMAGES = ("INDEX.csv", "broken image.JPG", "corrupted_city.JPG", "empty.jpg")
ALLOWED: tuple[Allowed, ...] = tuple(
    Allowed(
        f"tests/test_exif.py::test_shared_photo_matches_exiftool[{name}]",
        re.escape(f"Pillow cannot open {name}: "),
        "a non-image row of the shared EXIF table",
    )
    for name in _NOT_IMAGES
)


@dataclass(frozen=True)
class Skip:
    nodeid: str
    kind: str  # "skipped" or "xfailed"
    reason: str


def ci() -> bool:
    """True on CI (the CI variable set to true, as GitHub Actions and most CI services do)."""
    return os.environ.get("CI", "").strip().lower() in CI_VALUES


def allowed(skip: Skip) -> Allowed | None:
    """The allow-list entry that covers this skip, if any (xfails are never allowed)."""
    if skip.kind != "skipped":
        return None
    for entry in ALLOWED:
        if entry.nodeid == skip.nodeid and re.match(entry.reason, skip.reason):
            return entry
    return None


def from_report(report: Any) -> Skip | None:
    """The skip a test or collection report records (None when it is not a skip)."""
    if not report.skipped:
        return None
    if hasattr(report, "wasxfail"):
        return Skip(report.nodeid, "xfailed", str(report.wasxfail) or "(no reason)")
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return Skip(report.nodeid, "skipped", str(reason).removeprefix("Skipped: "))


def refused(skips: list[Skip]) -> list[Skip]:
    return [s for s in skips if allowed(s) is None]


def summary_lines(skips: list[Skip]) -> list[str]:
    return [f"{s.kind.upper()} {s.nodeid}: {s.reason}" for s in refused(skips)]
