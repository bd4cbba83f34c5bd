"""Resource limits: peak memory of an index run over 10,000 photos stays bounded."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = int(os.environ.get("ATW_MEMORY_PHOTOS", "10000"))
MAIN_LIMIT_MB = 300
WORKER_LIMIT_MB = 300


def make_archive(root: Path, n: int) -> None:
    """n distinct small JPEGs (distinct bytes: a JPEG comment and pixels each) in 100 folders."""
    base = Image.new("RGB", (64, 48), (90, 120, 150))
    for i in range(n):
        img = base.copy()
        img.putpixel((0, 0), (i % 256, (i // 256) % 256, 7))
        img.putpixel((1, 0), (i // 65536, 3, 5))
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=80, comment=f"photo {i}".encode())
        folder = root / f"f{i % 100:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"p{i:05d}.jpg").write_bytes(buf.getvalue())


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(x) for x in fh.read().split()]
    except OSError:
        return []


def hwm_mb(pid: int) -> float | None:
    """VmHWM (peak resident set) of a live process, in MB."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


@pytest.mark.slow
def test_peak_memory_of_a_10000_photo_index_run_is_bounded(tmp_path):
    root = tmp_path / "photos"
    make_archive(root, PHOTOS)
    inst = tmp_path / "instance"
    env = {
        **os.environ,
        "ATW_INSTANCE_PATH": str(inst),
        "ATW_LABELERS": "",
        "ATW_INDEX_WORKERS": "2",
    }
    cmd = [sys.executable, "-m", "flask", "--app", "atw", "index", "--quiet", str(root)]
    t0 = time.monotonic()
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    main_peak, worker_peak = 0.0, 0.0
    while proc.poll() is None:
        main_peak = max(main_peak, hwm_mb(proc.pid) or 0.0)
        for child in children(proc.pid):  # the workers (and multiprocessing's helpers)
            worker_peak = max(worker_peak, hwm_mb(child) or 0.0)
        time.sleep(0.2)
        assert time.monotonic() - t0 < 600
    out, err = proc.communicate()
    seconds = time.monotonic() - t0
    assert proc.returncode == 0, err
    assert f"{PHOTOS} indexed" in out, out
    print(
        f"\nmemory: {PHOTOS} photos indexed in {seconds:.0f} s; peak RSS main {main_peak:.0f} MB,"
        f" worker {worker_peak:.0f} MB"
    )
    assert 0 < main_peak < MAIN_LIMIT_MB
    assert 0 < worker_peak < WORKER_LIMIT_MB
