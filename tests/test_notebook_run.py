"""docs/explore.ipynb executed headlessly (nbclient, a real IPython kernel) against a small index
of shared photos labelled by the real models: every cell runs, and what it prints and draws
equals what the JSON API says for the same filter. The committed notebook has no outputs."""

from __future__ import annotations

import base64
import os
import re
import shutil
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient
from PIL import Image

from tests.conftest import EXIF_DIR, MODEL_CONFIG, MODELS, fresh_app, index, need_shared

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "docs" / "explore.ipynb"
# Shared photos with positions (London twice, Sydney twice, Finland, Poland, Italy) and things
# the models know: people, a clock, a bird, a boat; and one without a position.
PHOTOS = (
    "big_ben.jpg",
    "newyear_london.jpg",
    "newyear_sydney.jpg",
    "sydney_opera_house.jpg",
    "bird.jpg",
    "ship.jpg",
    "DSCN0010.jpg",
    "boy1.jpg",
)
PLOTLY = "application/vnd.plotly.v1+json"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any]]:
    """(app over the small index, the notebook after running it against that index)."""
    need_shared(*(EXIF_DIR / p for p in PHOTOS), MODELS)
    base = tmp_path_factory.mktemp("explore")
    root = base / "photos"
    root.mkdir()
    for name in PHOTOS:
        shutil.copy2(EXIF_DIR / name, root / name)  # the originals are only read
    app = fresh_app(base / "instance", **MODEL_CONFIG)
    summary = index(app, root)
    assert summary.indexed == len(PHOTOS), summary.errors
    nb = nbformat.read(NOTEBOOK, as_version=4)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATW_")}
    env |= {"ATW_INSTANCE_PATH": str(base / "instance"), "PLOTLY_RENDERER": "plotly_mimetype"}
    # The kernel imports atw from this source tree (the one under test), whatever is installed.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(base)}}
    )
    client.execute(env=env)  # a cell that raises fails here (CellExecutionError)
    yield app, nb


def api(app: Any, path: str) -> Any:
    r = app.test_client().get(path)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def printed(nb: Any) -> str:
    return "".join(
        o.get("text", "")
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == "stream"
    )


def outputs(nb: Any, mime: str) -> list[Any]:
    return [
        o["data"][mime]
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type in ("display_data", "execute_result") and mime in o.get("data", {})
    ]


def values(v: Any) -> list[Any]:
    """A Plotly JSON array: a list, or a typed array {"bdata": base64, "dtype"} (NumPy data)."""
    if isinstance(v, dict) and "bdata" in v:
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"]).tolist()
    return list(v)


def number(pattern: str, text: str) -> re.Match[str]:
    found = re.search(pattern, text)
    assert found, f"{pattern!r} not in the notebook's output:\n{text}"
    return found


def test_the_committed_notebook_has_no_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)
    assert any("parameters" in c.metadata.get("tags", []) for c in code)


def test_every_cell_ran(executed):
    _, nb = executed
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code)
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors


def test_the_counts_are_the_apis_totals(executed):
    app, nb = executed
    text = printed(nb)
    found = number(r"all photos: (\d+) \((\d+) with a position\)", text)
    total, located = int(found[1]), int(found[2])
    assert total == api(app, "/api/photos")["total"] == len(PHOTOS)
    assert located == api(app, "/api/photos?has_gps=yes")["total"] == len(PHOTOS) - 1
    assert int(number(r"with GPS: (\d+) photos", text)[1]) == located


def test_the_radius_query_and_its_map_are_the_apis(executed):
    app, nb = executed
    text = printed(nb)
    found = number(r"within 100 km of (-?[\d.]+), (-?[\d.]+): (\d+) photos", text)
    newest = api(app, "/api/photos?has_gps=yes&per_page=1")["photos"][0]  # the default centre
    assert (float(found[1]), float(found[2])) == (round(newest["lat"], 4), round(newest["lon"], 4))
    q = f"lat={newest['lat']!r}&lon={newest['lon']!r}&radius_km=100"
    near = api(app, f"/api/photos?{q}")
    assert int(found[3]) == near["total"] >= 2  # big_ben.jpg and newyear_london.jpg
    (fig,) = [f for f in outputs(nb, PLOTLY) if f["data"][0].get("type") == "scattergeo"]
    names = [t.get("name") for t in fig["data"]]
    assert f"{near['total']} photos" in names and "100 km" in names
    dots = next(t for t in fig["data"] if t.get("name") == f"{near['total']} photos")
    want = sorted((p["lat"], p["lon"]) for p in near["photos"])
    assert sorted(zip(values(dots["lat"]), values(dots["lon"]), strict=True)) == want
    assert fig["layout"]["geo"]["visible"] is False  # offline: no base map to fetch


def test_the_classes_per_month_are_the_dashboards(executed):
    app, nb = executed
    top = number(r"top classes: (.+)", printed(nb))[1].split(", ")
    counts: dict[str, int] = {}
    for row in api(app, "/api/classes?kind=class"):
        counts[row["label"]] = max(counts.get(row["label"], 0), row["photos"])
    assert len(top) == min(5, len(counts))
    assert min(counts[c] for c in top) >= max(
        (n for c, n in counts.items() if c not in top), default=0
    )
    (fig,) = [f for f in outputs(nb, PLOTLY) if f["data"][0].get("type") == "bar"]
    show = ",".join(top)
    charts = api(app, f"/charts.json?period=month&show={show}")
    want = {t["name"]: sum(t["y"]) for t in charts["figures"]["classes_over_time"]["data"]}
    got = {t["name"]: sum(values(t["y"])) for t in fig["data"]}
    assert got == want and set(got) == set(top)


def test_the_boxes_and_the_photo_drawn_are_the_apis(executed):
    app, nb = executed
    text = printed(nb)
    photos = api(app, "/api/photos")["photos"]
    found = number(r"boxes: (\d+) in (\d+) photos", text)
    assert int(found[1]) == sum(len(p["detections"]) for p in photos) > 0
    assert int(found[2]) == sum(1 for p in photos if p["detections"])
    found = number(r"photo (\d+): (\d+) boxes \((.*)\)", text)
    pid, n = int(found[1]), int(found[2])
    record = api(app, f"/api/photos/{pid}")
    assert n == len(record["detections"]) == max(len(p["detections"]) for p in photos)
    assert sorted(found[3].split(", ")) == sorted(d["label"] for d in record["detections"])
    pngs = outputs(nb, "image/png")
    assert len(pngs) == 1
    img = Image.open(BytesIO(base64.b64decode(pngs[0])))
    thumb = Image.open(BytesIO(app.test_client().get(record["thumbnail_url"]).data))
    assert img.size == thumb.size
    # The boxes are drawn: the picture differs from the thumbnail along the first box's edge.
    x0, y0, _, _ = record["detections"][0]["box"]
    w, h = img.size
    edge = (min(w - 1, int(x0 * w) + 1), min(h - 1, int(y0 * h) + 5))
    assert img.convert("RGB").getpixel(edge) != thumb.convert("RGB").getpixel(edge)
