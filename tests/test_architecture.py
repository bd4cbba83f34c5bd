"""The house rules (docs/architecture.md): import contracts, no cycles, unique module names,
a summary docstring in every module, no module over 400 lines; and proof that the checks bite."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
LINT_IMPORTS = BIN / "lint-imports"
CYCLES = ROOT / "scripts" / "check_import_cycles.py"
CODE = ("atw", "pipelines", "bench", "scripts")  # where the 400-line rule holds (tests may exceed)
MAX_LINES = 400


def modules(*tops: str) -> list[Path]:
    return sorted(p for top in tops for p in (ROOT / top).rglob("*.py"))


def run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "PYTHONPATH": str(cwd), "PYTHONIOENCODING": "utf-8"}
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    return run([str(LINT_IMPORTS), "--no-cache"], cwd)


def cycle_check(cwd: Path) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, str(CYCLES)], cwd)


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """The Python source of atw and pipelines and the contracts (pyproject.toml), in a folder
    of their own: a place to break the rules without touching the project."""
    keep = shutil.ignore_patterns("__pycache__", "static", "templates", "data", "*.json*")
    for top in ("atw", "pipelines"):
        shutil.copytree(ROOT / top, tmp_path / top, ignore=keep)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def add_line(path: Path, line: str) -> None:
    """Put an import right after the module's docstring (and the __future__ import)."""
    lines = path.read_text().splitlines(keepends=True)
    at = next(i for i, text in enumerate(lines) if text.startswith("from __future__")) + 1
    lines.insert(at, line + "\n")
    path.write_text("".join(lines))


def test_the_import_contracts_hold():
    out = lint_imports(ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "7 kept, 0 broken" in out.stdout


def test_no_import_cycle():
    out = cycle_check(ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "no import cycle in atw, pipelines" in out.stdout


def test_the_checks_pass_on_an_unchanged_copy(copy: Path):
    """The control for the tests below: the copy alone breaks nothing."""
    assert lint_imports(copy).returncode == 0
    assert cycle_check(copy).returncode == 0


def test_flask_in_the_query_layer_breaks_a_contract(copy: Path):
    add_line(copy / "atw" / "query" / "terms.py", "import flask")
    out = lint_imports(copy)
    assert out.returncode == 1, out.stdout
    assert "no Flask below the web layer (core, query, present, services, pipelines) BROKEN" in (
        " ".join(out.stdout.split())
    )
    assert "atw.query.terms -> flask" in out.stdout
    assert "6 kept, 1 broken" in out.stdout


def test_a_lower_layer_importing_a_higher_one_breaks_the_layers(copy: Path):
    add_line(copy / "atw" / "query" / "records.py", "from atw.present import tables")
    out = lint_imports(copy)
    assert out.returncode == 1, out.stdout
    assert "cli → web → (services | present) → query → core BROKEN" in out.stdout
    assert "atw.query.records -> atw.present.tables" in out.stdout


def test_pipelines_reaching_past_the_core_breaks_a_contract(copy: Path):
    add_line(copy / "pipelines" / "scan.py", "from atw.query import filters")
    out = lint_imports(copy)
    assert out.returncode == 1, out.stdout
    assert "pipelines import nothing from atw but atw.core BROKEN" in out.stdout
    assert "pipelines.scan -> atw.query.filters" in out.stdout


def test_the_web_layer_importing_pipelines_breaks_a_contract(copy: Path):
    add_line(copy / "atw" / "web" / "views" / "files.py", "from pipelines import scan")
    out = lint_imports(copy)
    assert out.returncode == 1, out.stdout
    assert "the web layer goes through services) BROKEN" in " ".join(out.stdout.split())
    assert "atw.web.views.files -> pipelines.scan" in out.stdout


def test_a_cycle_fails_both_checks(copy: Path):
    """Two core modules importing each other (inside a function, where cycles hide)."""
    clock, geo = copy / "atw" / "core" / "clock.py", copy / "atw" / "core" / "geo.py"
    clock.write_text(clock.read_text() + "\n\ndef _uses_geo():\n    from atw.core import geo\n")
    add_line(geo, "from atw.core import clock")
    out = cycle_check(copy)
    assert out.returncode == 1, out.stdout
    assert "import cycle: atw.core.clock ↔ atw.core.geo" in out.stdout
    lint = lint_imports(copy)
    assert lint.returncode == 1
    assert "no import cycle between sibling modules or packages BROKEN" in lint.stdout


def test_a_package_importing_its_importer_is_a_cycle(copy: Path):
    """A cycle through a package's __init__ (invisible to sibling checks) is still found."""
    add_line(copy / "atw" / "cli" / "serving.py", "import atw.cli")
    out = cycle_check(copy)
    assert out.returncode == 1, out.stdout
    assert "atw.cli ↔ atw.cli.serving" in out.stdout


def test_importing_the_core_and_query_layers_imports_no_flask():
    """What the indexer and a notebook import: no Flask, no web layer, no CLI."""
    code = (
        "import sys\n"
        "import atw, atw.core.engine, atw.core.media, atw.core.locks, atw.core.settings\n"
        "import atw.query.search, atw.query.records, atw.query.series\n"
        "import atw.present.reports, atw.present.tables, atw.present.folders\n"
        "import pipelines.run, pipelines.exif\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in\n"
        "      {'flask', 'werkzeug', 'flask_wtf', 'torch', 'onnxruntime'}\n"
        "      or m.startswith(('atw.web', 'atw.cli'))))\n"
    )
    out = run([sys.executable, "-c", code], ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_no_two_modules_share_a_name():
    """A name says where a module lives (issue 11: exports.py, cli_exports.py and
    views/exports.py were three rooms with one name). Packages count as names too."""
    seen: dict[str, list[str]] = defaultdict(list)
    for path in modules("atw", "pipelines", "tests", "bench", "scripts"):
        rel = path.relative_to(ROOT)
        name = path.parent.name if path.name == "__init__.py" else path.stem
        if path.name == "__init__.py" and len(rel.parts) == 2:
            continue  # the top-level packages themselves
        seen[name].append(str(rel))
    shared = {name: where for name, where in seen.items() if len(where) > 1}
    assert not shared, shared


def test_every_module_opens_with_a_summary_line():
    missing = []
    for path in [*modules("atw", "pipelines", "tests", "bench", "scripts"), ROOT / "wsgi.py"]:
        doc = ast.get_docstring(ast.parse(path.read_text(), str(path)))
        if not doc or not doc.splitlines()[0].strip():
            missing.append(str(path.relative_to(ROOT)))
    assert not missing


def test_no_module_is_over_400_lines():
    long = {}
    for path in modules(*CODE):
        n = len(path.read_text().splitlines())
        if n > MAX_LINES:
            long[str(path.relative_to(ROOT))] = n
    assert not long, f"split these along a real seam: {long}"
