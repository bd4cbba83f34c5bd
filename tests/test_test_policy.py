"""The skip policy of tests/conftest.py and tests/skips.py, run on small test files in a real
pytest subprocess: under CI=true a skip fails the run and is named, an allowed one does not."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PIL import Image, UnidentifiedImageError

from tests import skips
from tests.conftest import EXIF_DIR, need_shared

ROOT = Path(__file__).resolve().parents[1]

# Named as the real EXIF test is, so that the allow-list's exact ids apply to it.
EXIF_LIKE = """
import pytest

@pytest.mark.parametrize("name", ["INDEX.csv", "Canon_40D.jpg", "empty.jpg"])
def test_shared_photo_matches_exiftool(name):
    if name == "empty.jpg":
        pytest.skip("no shared photos at /nowhere/shared/photos/exif")  # listed id, other reason
    pytest.skip(f"Pillow cannot open {name}: cannot identify image file")
"""

DISALLOWED = """
import pytest

def test_runs():
    assert True

def test_data_missing():
    pytest.skip("shared photos not found at /nowhere/shared")

@pytest.mark.skipif(True, reason="../shared models not present")
def test_marked():
    pass

def test_module_missing():
    pytest.importorskip("atw_no_such_module")

@pytest.mark.xfail(reason="known to be broken")
def test_expected_to_fail():
    assert False
"""

MODULE_SKIP = """
import pytest

pytest.skip("endpoint renamed", allow_module_level=True)

def test_never_collected():
    pass
"""


def run_pytest(
    tmp_path: Path, files: dict[str, str], ci: str | None
) -> subprocess.CompletedProcess:
    """pytest in a fresh process over tests/<name> files under tmp_path (the root directory, so
    test ids read tests/...), with tests/conftest.py loaded as a plugin."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "tests").mkdir(exist_ok=True)
    for name, text in files.items():
        (tmp_path / "tests" / name).write_text(textwrap.dedent(text))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "CI"))}
    if ci is not None:
        env["CI"] = ci
    args = ["-p", "tests.conftest", "-p", "no:cacheprovider", "-q", "-rs"]
    args += ["--rootdir", str(tmp_path), "-c", str(tmp_path / "pytest.ini")]
    return subprocess.run(
        [sys.executable, "-m", "pytest", *args, str(tmp_path / "tests")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_under_ci_every_skip_fails_the_run_and_is_named(tmp_path):
    done = run_pytest(tmp_path, {"test_some.py": DISALLOWED, "test_gone.py": MODULE_SKIP}, "true")
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "5 skips not allowed under CI=true" in out, out
    for line in [
        "SKIPPED tests/test_some.py::test_data_missing: shared photos not found at /nowhere/shared",
        "SKIPPED tests/test_some.py::test_marked: ../shared models not present",
        "SKIPPED tests/test_some.py::test_module_missing: could not import 'atw_no_such_module'",
        "XFAILED tests/test_some.py::test_expected_to_fail: known to be broken",
        "SKIPPED tests/test_gone.py: endpoint renamed",
    ]:
        assert line in out, (line, out)
    assert "test_runs" not in out.split("skips not allowed")[1]


def test_without_ci_skips_are_reported_but_do_not_fail(tmp_path):
    done = run_pytest(tmp_path, {"test_some.py": DISALLOWED}, None)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "4 skips that would fail the run under CI=true" in out, out


def test_only_listed_ids_with_their_reason_may_skip(tmp_path):
    done = run_pytest(tmp_path, {"test_exif.py": EXIF_LIKE}, "true")
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "2 skips not allowed" in out, out
    listed = "tests/test_exif.py::test_shared_photo_matches_exiftool"
    assert f"SKIPPED {listed}[Canon_40D.jpg]: Pillow cannot open" in out  # not on the list
    assert f"SKIPPED {listed}[empty.jpg]: no shared photos" in out  # listed, but not this reason
    assert f"{listed}[INDEX.csv]:" not in out.split("skips not allowed")[1]


def test_an_allowed_skip_passes_under_ci(tmp_path):
    allowed_only = EXIF_LIKE.replace('"Canon_40D.jpg", "empty.jpg"', "")
    done = run_pytest(tmp_path, {"test_exif.py": allowed_only}, "true")
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "1 skipped" in out and "not allowed" not in out, out


@pytest.mark.parametrize("entry", skips.ALLOWED, ids=lambda e: e.nodeid.split("[")[-1][:-1])
def test_the_allow_list_is_true(entry):
    """Each allowed EXIF row names a file of the shared folder that Pillow really cannot open."""
    need_shared(EXIF_DIR)
    name = entry.nodeid.split("[", 1)[1][:-1]
    assert (EXIF_DIR / name).is_file(), name
    with pytest.raises((UnidentifiedImageError, OSError)):
        Image.open(EXIF_DIR / name)
