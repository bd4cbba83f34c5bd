"""The README's configuration table, made from the declared settings (atw/core/settings.py).

    python scripts/settings_table.py            print the table
    python scripts/settings_table.py --write    rewrite the table in README.md
    python scripts/settings_table.py --check    exit 1 (with a diff) when README.md differs

tests/test_settings.py runs the check, so a setting added to atw/core/settings.py without
rewriting the README (or a README row edited by hand) fails the tests."""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from atw.core.settings import SETTINGS, Setting  # noqa: E402

README = ROOT / "README.md"
# The line just above the table in README.md; the table is every "|" line after it.
MARKER = "<!-- settings table: made by scripts/settings_table.py from atw/core/settings.py -->"
HEADER = ["| key | default | meaning |", "|---|---|---|"]


def name_cell(s: Setting) -> str:
    if not s.config:
        return f"`{s.name}` (env `ATW_{s.name}` only)"
    if not s.env:
        return f"`{s.name}` (`instance/config.py` only)"
    return f"`{s.name}`"


def default_cell(s: Setting) -> str:
    """How the README shows the default: `shown`, else the value (empty text: "(empty)")."""
    if s.shown:
        return s.shown
    if s.default == "":
        return "(empty)"
    return f"`{s.default!r}`" if not isinstance(s.default, str) else f"`{s.default}`"


def table() -> list[str]:
    return HEADER + [f"| {name_cell(s)} | {default_cell(s)} | {s.help} |" for s in SETTINGS]


def find_table(lines: list[str]) -> tuple[int, int]:
    """The [start, end) line numbers of the table under MARKER in the README's lines."""
    try:
        start = lines.index(MARKER) + 1
    except ValueError:
        raise SystemExit(f"{README}: the marker line is missing: {MARKER}") from None
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    return start, end


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = ap.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help="rewrite the table in README.md")
    group.add_argument("--check", action="store_true", help="exit 1 when README.md differs")
    ap.add_argument("--readme", type=Path, default=README, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    made = table()
    if not (args.write or args.check):
        print("\n".join(made))
        return 0
    lines = args.readme.read_text(encoding="utf-8").split("\n")
    start, end = find_table(lines)
    if args.check:
        diff = list(difflib.unified_diff(lines[start:end], made, "README.md", "settings", n=0))
        if diff:
            print("\n".join(diff))
            print("README.md's configuration table differs from atw/core/settings.py: run")
            print("  python scripts/settings_table.py --write")
            return 1
        return 0
    lines[start:end] = made
    args.readme.write_text("\n".join(lines), encoding="utf-8")
    print(f"{args.readme}: {len(SETTINGS)} settings")
    return 0


if __name__ == "__main__":
    sys.exit(main())
