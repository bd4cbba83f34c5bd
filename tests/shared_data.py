"""Where the real models and photos are: ATW_TEST_DATA, else <repo>/../shared (tests, bench)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT.parent / "shared"
# The files of that folder with their public sources and sha256 sums (scripts/test_data.py).
MANIFEST = ROOT / "tests" / "data" / "manifest.csv"


def data_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """The test data folder: ATW_TEST_DATA (a relative path counts from the current folder),
    else ../shared beside the project folder."""
    value = environ.get("ATW_TEST_DATA", "").strip()
    return Path(value).expanduser().absolute() if value else DEFAULT


SHARED = data_dir()
