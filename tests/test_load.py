"""Index while serving: a bounded load loop against waitress while `flask index` writes."""

from __future__ import annotations

import http.client
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote, urlparse

import pytest

from atw import create_app
from tests.browser import live_server
from tests.conftest import MODEL_CONFIG, index, need_shared
from tests.photos import pattern, write_jpeg

ROOT = Path(__file__).resolve().parents[1]
CLIENTS = 4
MAX_REQUESTS = 2000
MAX_SECONDS = 60


def make_archive(root: Path, n: int, first: int = 0) -> None:
    for i in range(first, first + n):
        write_jpeg(
            root / f"d{i % 5}" / f"p{i:04d}.jpg",
            pattern((640, 480), seed=i),
            taken=f"2019:{1 + i % 12:02d}:{1 + i % 28:02d} 12:{i % 60:02d}:00",
            gps=(38.7 + (i % 50) / 100, -9.1 - (i % 30) / 100) if i % 2 else None,
            make="Canon" if i % 3 else "Nikon",
            model="EOS" if i % 3 else "D70",
        )


@pytest.mark.slow
def test_dashboard_and_api_stay_error_free_while_the_indexer_writes(tmp_path):
    need_shared()
    root = tmp_path / "photos"
    make_archive(root / "early", 60)
    inst = tmp_path / "instance"
    config = {
        **MODEL_CONFIG,
        "TESTING": False,
        "INSTANCE_PATH": str(inst),
        "INDEX_WORKERS": 1,
        "INDEX_BATCH_SIZE": 16,
    }
    app = create_app(config)
    index(app, root)  # something to show from the start
    make_archive(root / "late", 300, first=1000)
    with app.test_client() as c:
        ids = [p["id"] for p in c.get("/api/photos?per_page=60").get_json()["photos"]]
    assert len(ids) == 60
    folder = quote(str(root / "early" / "d1"))
    urls = [
        "/",
        "/?classes=person&min_score=0.2",
        "/api/photos?per_page=50",
        "/api/photos?classes=person,dog&match=any&min_score=0.3",
        "/api/photos?classes=jersey&source=imagenet",
        "/api/photos?lat=38.9&lon=-9.2&radius_km=40&sort=nearest",
        "/api/photos?start=2019-03-01&end=2019-08-31&estimated=exclude",
        f"/api/photos?folder={folder}",
        "/api/photos?camera_make=Canon&page=2&per_page=20",
        "/api/classes",
        "/api/classes?min_score=0.5",
        "/api/map",
        "/api/map?has_gps=yes&start=2019-01-01",
        "/api/quarantine",
    ]

    env = {**os.environ, "ATW_INSTANCE_PATH": str(inst)}
    env.update(
        {f"ATW_{k}": str(v) for k, v in config.items() if k not in ("INSTANCE_PATH", "TESTING")}
    )
    cmd = [sys.executable, "-m", "flask", "--app", "atw", "index", "--quiet", str(root)]

    latencies: list[float] = []
    failures: list[str] = []
    counts = {"requests": 0}
    lock = threading.Lock()
    stop = threading.Event()

    def client(base: str, seed: int) -> None:
        rng = random.Random(seed)
        u = urlparse(base)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        while not stop.is_set():
            with lock:
                if counts["requests"] >= MAX_REQUESTS:
                    return
                counts["requests"] += 1
            r = rng.random()
            pid = rng.choice(ids)
            if r < 0.2:
                path = f"/thumbs/{pid}.jpg"
            elif r < 0.3:
                path = f"/photos/{pid}"
            elif r < 0.33:
                path = f"/photos/{pid}/display.jpg?w=800"
            elif r < 0.36:
                path = f"/api/photos/{pid}"
            else:
                path = rng.choice(urls)
            t0 = time.perf_counter()
            try:
                conn.request("GET", path)
                resp = conn.getresponse()
                body = resp.read()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
                with lock:
                    failures.append(f"{path}: {type(exc).__name__}: {exc}")
                continue
            dt = time.perf_counter() - t0
            with lock:
                latencies.append(dt)
                if resp.status >= 500 or resp.status not in (200, 304):
                    failures.append(f"{path}: HTTP {resp.status} {body[:200]!r}")
                if b"database is locked" in body:
                    failures.append(f"{path}: database is locked")
        conn.close()

    with live_server(app) as base:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        t0 = time.monotonic()
        threads = [threading.Thread(target=client, args=(base, i)) for i in range(CLIENTS)]
        for t in threads:
            t.start()
        while time.monotonic() - t0 < MAX_SECONDS and proc.poll() is None:
            with lock:
                if counts["requests"] >= MAX_REQUESTS:
                    break
            time.sleep(0.1)
        served_while_indexing = proc.poll() is None
        stop.set()
        for t in threads:
            t.join(60)
        out, err = proc.communicate(timeout=300)
        seconds = time.monotonic() - t0
    assert proc.returncode == 0, err
    assert "database is locked" not in out + err
    assert "300 indexed" in out, out
    assert served_while_indexing or counts["requests"] >= MAX_REQUESTS // 2
    lat = sorted(latencies)
    p50, p95 = lat[len(lat) // 2], lat[int(len(lat) * 0.95)]
    print(
        f"\nload: {len(lat)} requests by {CLIENTS} clients in {seconds:.1f} s during an index "
        f"run of 300 photos with labels; p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
        f"max {lat[-1] * 1000:.0f} ms; failures {len(failures)}"
    )
    assert failures == []
    assert len(lat) >= 200
