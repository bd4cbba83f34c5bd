"""Prints requests/s and p50/p95 latency of POST /api/classify (COCO counts, model=imagenet) under
N concurrent clients, against the real app served by waitress in a subprocess on loopback."""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.shared_data import SHARED  # noqa: E402  (ATW_TEST_DATA, default ../shared)

SHARED_MODELS = SHARED / "models"
IMAGE = SHARED / "photos" / "coco128" / "images" / "train2017" / "000000000009.jpg"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(instance: Path, port: int, threads: int) -> subprocess.Popen[bytes]:
    """waitress-serve --call atw:create_app, with the shared models unless ATW_* say otherwise."""
    env = dict(os.environ)
    env.setdefault("ATW_IMAGENET_MODEL", "mobilenet_v2")
    env.setdefault(
        "ATW_IMAGENET_WEIGHTS", str(SHARED_MODELS / "mobilenet_v2_imagenet_from_tflite.pth")
    )
    env.setdefault("ATW_YOLO_MODEL", str(SHARED_MODELS / "yolov8n_int8.onnx"))
    env["ATW_INSTANCE_PATH"] = str(instance)
    waitress = Path(sys.executable).with_name("waitress-serve")
    cmd = [
        str(waitress),
        "--host=127.0.0.1",
        f"--port={port}",
        f"--threads={threads}",
        "--channel-timeout=120",
        "--call",
        "atw:create_app",
    ]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)


def post(port: int, query: str, body: bytes) -> tuple[int, float]:
    t = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("POST", f"/api/classify{query}", body, {"Content-Type": "image/jpeg"})
        resp = conn.getresponse()
        resp.read()
        return resp.status, time.perf_counter() - t
    finally:
        conn.close()


def wait_ready(port: int, body: bytes, timeout: float = 300.0) -> float:
    """Until the server answers a classify (the first one loads the models): its latency."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            status, seconds = post(port, "?model=imagenet", body)
            if status == 200:
                post(port, "", body)
                return seconds
            raise SystemExit(f"the server answered {status} to the warm-up request")
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit("the server did not come up") from None
            time.sleep(0.3)


def load(port: int, query: str, body: bytes, clients: int, requests: int, limit: float) -> None:
    """`clients` threads post `requests` in all (or until `limit` seconds); prints the figures."""
    latencies: list[float] = []
    errors: list[int] = []
    lock = threading.Lock()
    issued = [0]
    deadline = time.monotonic() + limit

    def client() -> None:
        while time.monotonic() < deadline:
            with lock:
                if issued[0] >= requests:
                    return
                issued[0] += 1
            status, seconds = post(port, query, body)
            with lock:
                (latencies if status == 200 else errors).append(
                    seconds if status == 200 else status
                )

    threads = [threading.Thread(target=client) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    print(
        f"  {query or '(counts)':<18} {len(latencies):4d} ok, {len(errors)} errors in "
        f"{wall:5.1f} s: {len(latencies) / wall:6.1f} req/s, p50 {1000 * q[49]:6.1f} ms, "
        f"p95 {1000 * q[94]:6.1f} ms"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-c", "--clients", type=int, default=4, help="concurrent clients")
    ap.add_argument("-n", "--requests", type=int, default=200, help="requests per scenario")
    ap.add_argument("--seconds", type=float, default=60.0, help="time limit per scenario")
    ap.add_argument("--threads", type=int, default=8, help="waitress threads")
    ap.add_argument("--image", type=Path, default=IMAGE)
    args = ap.parse_args()
    body = args.image.read_bytes()
    instance = Path(tempfile.mkdtemp(prefix="atw-bench-classify-"))
    port = free_port()
    server = start_server(instance, port, args.threads)
    try:
        first = wait_ready(port, body)
        print(
            f"waitress --threads={args.threads} on 127.0.0.1:{port}, {os.cpu_count()} cores; "
            f"{args.image.name} ({len(body) / 1000:.0f} kB); first request (loads the models) "
            f"{first:.1f} s"
        )
        print(f"{args.clients} concurrent clients, {args.requests} requests per scenario:")
        load(port, "?threshold=0.5", body, args.clients, args.requests, args.seconds)
        load(port, "?model=imagenet", body, args.clients, args.requests, args.seconds)
        print("one client at a time (latency without queueing):")
        load(port, "?threshold=0.5", body, 1, max(20, args.requests // 5), args.seconds)
        load(port, "?model=imagenet", body, 1, max(20, args.requests // 5), args.seconds)
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(instance, ignore_errors=True)


if __name__ == "__main__":
    main()
