"""Cost per photo per core of atw's labelling pipeline vs the original design, measured in one run.

Both pipelines are loaded once in the same worker processes (one per core, one thread each);
after loading, every worker alternates rounds of atw photos and original-design photos, so any
load from elsewhere on the machine falls on both alike. Model building and loading are outside
the timings. The ratio is original ms per photo / atw ms per photo; --repeat measures it again
and reports the spread. Beside the wall-clock time, each photo's CPU time (the worker process's,
all its threads) is summed too: on a machine shared with other work the CPU-time ratio moves
much less than the wall-clock one, since time spent waiting for a core is not counted. Then a
real index run gives atw's photos/s once its workers are up.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.original_design import OriginalDesign
from bench.phone_photos import ensure_phone_photos
from tests.shared_data import SHARED

SHARED_MODELS = SHARED / "models"
# atw configurations measured beside the original design: name → YOLO settings on top of the
# default configuration (the default itself is "atw").
CONFIGS: dict[str, dict[str, Any]] = {
    "atw": {},
    "atw-file": {"YOLO_RUNTIME": "file", "YOLO_RECT": False},  # the shared int8 file as it is
    "atw-square": {"YOLO_RECT": False},  # the 640×640 input (the default before YOLO_RECT)
    "atw-ov-cls": {"IMAGENET_RUNTIME": "openvino"},  # the classifier on OpenVINO (auto's pick)
    "atw-onnx-cls": {"IMAGENET_RUNTIME": "onnx"},  # the classifier on onnxruntime
    "atw-pil": {"YOLO_RESIZE": "antialias"},  # the detector's input scaled by Pillow
    # the default of the previous session: classifier on onnxruntime, Pillow's letterbox
    "atw-prev": {"IMAGENET_RUNTIME": "onnx", "YOLO_RESIZE": "antialias"},
    "atw-fp32": {"YOLO_RUNTIME": "fp32"},
    "atw-fp32-square": {"YOLO_RUNTIME": "fp32", "YOLO_RECT": False},
    "atw-qdq": {"YOLO_RUNTIME": "qdq"},
    "atw-int8": {"YOLO_RUNTIME": "int8"},  # NNCF's int8 on OpenVINO (auto's pick)
    "atw-ov": {"YOLO_RUNTIME": "openvino"},  # the float graph on OpenVINO (auto without NNCF)
}


def base_config(inst: Path, models_dir: Path) -> dict[str, Any]:
    return {
        "INSTANCE_PATH": str(inst),
        "LABELERS": "imagenet,coco",
        "IMAGENET_MODEL": os.environ.get("ATW_IMAGENET_MODEL", "mobilenet_v2"),
        "IMAGENET_WEIGHTS": os.environ.get(
            "ATW_IMAGENET_WEIGHTS", str(SHARED_MODELS / "mobilenet_v2_imagenet_from_tflite.pth")
        ),
        "YOLO_MODEL": os.environ.get("ATW_YOLO_MODEL", str(SHARED_MODELS / "yolov8n_int8.onnx")),
        "MODELS_DIR": str(models_dir),
    }


def app_config(overrides: dict[str, Any]) -> dict[str, Any]:
    """The full configuration atw would run with (defaults, environment, these overrides)."""
    from atw import create_app

    return dict(create_app(overrides).config)


@dataclass
class Tally:
    """Summed seconds per stage and photos, for one pipeline in one worker."""

    photos: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    def add(self, stages: dict[str, float]) -> None:
        self.photos += 1
        for k, v in stages.items():
            self.seconds[k] = self.seconds.get(k, 0.0) + v

    def merge(self, other: Tally) -> None:
        self.photos += other.photos
        for k, v in other.seconds.items():
            self.seconds[k] = self.seconds.get(k, 0.0) + v

    def ms(self, key: str = "total") -> float:
        return 1000 * self.seconds.get(key, 0.0) / max(1, self.photos)


ATW_STAGES = ("read", "exif", "decode", "thumbnail", "imagenet", "coco")


def _measure(job: dict[str, Any]) -> dict[str, Tally]:
    """One worker process: load everything, then alternate rounds of each pipeline."""
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)
    from pipelines.worker import Task, Worker

    atw = {name: Worker(cfg) for name, cfg in job["atw"].items()}
    original = OriginalDesign() if job["original"] else None
    for w in atw.values():  # one photo each: lazy sessions (rectangular sizes) are made now
        for p in job["warm"]:
            st = os.stat(p)
            w(Task(p, str(Path(p).parent), st.st_size, st.st_mtime_ns))
    if original is not None:
        original(job["warm"][0])
    job["barrier"].wait()
    tallies = {name: Tally() for name in [*atw, "original"]}
    for rnd in job["rounds"]:
        for name, w in atw.items():
            for p in rnd[name]:
                st = os.stat(p)
                cpu = time.process_time()
                res = w(Task(p, str(Path(p).parent), st.st_size, st.st_mtime_ns))
                cpu = time.process_time() - cpu
                if res.kind != "photo":
                    raise RuntimeError(f"{name}: {p}: {res.kind} {res.reason}")
                stages = {k: res.seconds.get(k, 0.0) for k in ATW_STAGES}
                tallies[name].add({**stages, "total": sum(stages.values()), "cpu": cpu})
        if original is not None:
            for p in rnd["original"]:
                cpu = time.process_time()
                stages = original(p)
                tallies["original"].add({**stages, "cpu": time.process_time() - cpu})
    return tallies


def measure(
    files: list[Path], names: list[str], workers: int, rounds: int, per_round: int, orig: int
) -> dict[str, Tally]:
    """Per-pipeline tallies of one interleaved measurement over `workers` processes."""
    from pipelines.worker import WorkerConfig

    tmp = Path(tempfile.mkdtemp(prefix="atw-lt-"))
    models_dir = Path(__file__).resolve().parent / "out" / "models"
    try:
        cfgs = {}
        for name in names:
            config = app_config(base_config(tmp / name, models_dir) | CONFIGS[name])
            from pipelines.run import resolve_stages, run_index

            empty = tmp / "empty"
            empty.mkdir(exist_ok=True)
            run_index([str(empty)], config | {"LABELERS": ""}, progress=False)  # the schema
            cfgs[name] = WorkerConfig(
                database_url=config["DATABASE_URL"],
                thumbs_dir=config["THUMBS_DIR"],
                thumb_size=int(config["THUMB_SIZE"]),
                thumb_quality=int(config["THUMB_QUALITY"]),
                max_pixels=int(config["MAX_IMAGE_PIXELS"]),
                max_file_bytes=int(config["MAX_FILE_BYTES"]),
                specs=tuple(resolve_stages(config)),
                file_time_zone=config["FILE_TIME_ZONE"],
            )
        need = per_round * len(names) + orig
        ctx = mp.get_context("spawn")
        barrier = ctx.Manager().Barrier(workers)
        jobs = []
        for w in range(workers):
            mine = files[:-4][w::workers]
            if len(mine) < rounds * need:
                raise SystemExit(f"not enough photos: {len(mine)} per worker")
            rounds_w = []
            for r in range(rounds):
                chunk = [str(p) for p in mine[r * need : (r + 1) * need]]
                rnd = {n: chunk[i * per_round : (i + 1) * per_round] for i, n in enumerate(names)}
                rnd["original"] = chunk[len(names) * per_round :]
                rounds_w.append(rnd)
            jobs.append(
                {
                    "atw": cfgs,
                    "original": orig > 0,
                    "warm": [str(p) for p in files[-4:]],
                    "rounds": rounds_w,
                    "barrier": barrier,
                }
            )
        with ctx.Pool(workers) as pool:
            results = pool.map(_measure, jobs)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    out: dict[str, Tally] = {}
    for res in results:
        for name, t in res.items():
            out.setdefault(name, Tally()).merge(t)
    return out


def report(tallies: dict[str, Tally], workers: int) -> dict[str, tuple[float, float]]:
    """Print each pipeline's figures; returns {name: (wall-clock ratio, CPU-time ratio)} of the
    original design over each atw configuration."""
    orig = tallies.get("original")
    ratios = {}
    for name, t in tallies.items():
        stages = ATW_STAGES if name != "original" else OriginalDesign.STAGES
        parts = ", ".join(f"{k} {t.ms(k):.1f}" for k in stages)
        line = f"  {name:<9} {t.ms():7.1f} ms per photo per core ({t.photos} photos: {parts})"
        line += f"; CPU {t.ms('cpu'):.1f} ms"
        line += f"; {1000 * workers / t.ms():.1f} photos/s on {workers} workers"
        if orig is not None and orig.photos and name != "original":
            ratios[name] = (orig.ms() / t.ms(), orig.ms("cpu") / t.ms("cpu"))
            line += f"; original/{name} = {ratios[name][0]:.1f}x (CPU {ratios[name][1]:.1f}x)"
        old = tallies.get("atw-file")
        if old is not None and name not in ("original", "atw-file"):
            line += f"; atw-file/{name} = {old.ms() / t.ms():.2f}x"
        print(line)
    return ratios


def index_run(files: list[Path], workers: int, name: str) -> None:
    """A real index run (scan, workers, thumbnails, SQLite) of the photos: photos/s once the
    workers are up, and over the whole run."""
    from pipelines.run import run_index

    tmp = Path(tempfile.mkdtemp(prefix="atw-run-"))
    models_dir = Path(__file__).resolve().parent / "out" / "models"
    try:
        folder = tmp / "photos"
        folder.mkdir()
        for f in files:
            os.link(f, folder / f.name) if _same_fs(f, folder) else shutil.copy(f, folder)
        config = app_config(
            base_config(tmp / "inst", models_dir) | CONFIGS[name] | {"INDEX_WORKERS": workers}
        )
        s = run_index([str(folder)], config, progress=False)
        n = s.processed
        print(
            f"  {name}: index run of {n} photos, {workers} workers: {n / s.work_seconds:.1f} "
            f"photos/s once the workers are up ({s.work_seconds:.1f} s); {n / s.seconds:.1f} "
            f"photos/s over the whole run ({s.seconds:.1f} s, incl. start-up and model loading)"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _same_fs(a: Path, b: Path) -> bool:
    return a.stat().st_dev == b.stat().st_dev


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--configs", default="atw,atw-file", help=f"of {', '.join(CONFIGS)}")
    ap.add_argument("--rounds", type=int, default=4, help="alternations per measurement")
    ap.add_argument("--per-round", type=int, default=12, help="atw photos per worker per round")
    ap.add_argument("--original", type=int, default=2, help="original photos per worker/round")
    ap.add_argument("--repeat", type=int, default=2, help="measurements (the spread is shown)")
    ap.add_argument("-n", type=int, default=200, help="photos for the index run (0 = none)")
    args = ap.parse_args()
    names = [n.strip() for n in args.configs.split(",") if n.strip()]
    unknown = set(names) - set(CONFIGS)
    if unknown:
        raise SystemExit(f"unknown configs {sorted(unknown)}; known: {', '.join(CONFIGS)}")
    # Every photo of a measurement is distinct (a thumbnail already made would be skipped);
    # the last four (one of each size) only warm the workers up.
    per_worker = args.rounds * (args.per_round * len(names) + args.original)
    files = ensure_phone_photos(max(args.n, per_worker * args.workers + 4))
    mb = sum(f.stat().st_size for f in files) / len(files) / 1e6
    print(f"phone-size JPEGs, 9–12 MP, {mb:.1f} MB average; {args.workers} workers, 1 thread each")
    for f in files:  # into the page cache: both pipelines read warm files
        f.read_bytes()
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    runs: dict[str, list[tuple[float, float]]] = {n: [] for n in names}
    for i in range(args.repeat):
        t0 = time.perf_counter()
        tallies = measure(files, names, args.workers, args.rounds, args.per_round, args.original)
        print(
            f"measurement {i + 1} ({time.perf_counter() - t0:.0f} s, load average "
            f"{os.getloadavg()[0]:.2f}); ms per photo per core, models loaded:"
        )
        for name, r in report(tallies, args.workers).items():
            runs[name].append(r)
    if args.original and args.repeat > 1:
        for name, rs in runs.items():
            wall, cpu = [r[0] for r in rs], [r[1] for r in rs]
            print(
                f"original/{name}: median {statistics.median(wall):.1f}x, "
                f"spread {min(wall):.1f}–{max(wall):.1f}x over {len(rs)} measurements; "
                f"in CPU time median {statistics.median(cpu):.1f}x, "
                f"spread {min(cpu):.1f}–{max(cpu):.1f}x"
            )
    if args.n:
        index_run(files[: args.n], args.workers, names[0])


if __name__ == "__main__":
    main()
