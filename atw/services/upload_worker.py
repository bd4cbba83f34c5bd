"""The background upload indexer: one daemon thread per process runs pipelines.run.run_index over
<instance>/uploads when photos arrive (its worker processes load the models, this one never does),
waits and retries while another run holds the instance's lock, and prunes expired uploads daily."""

from __future__ import annotations

import logging
import multiprocessing as mp
import sys
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from sqlalchemy.orm import Session

from atw.core.engine import make_engine
from atw.services import upload_store

log = logging.getLogger(__name__)

DEBOUNCE = 0.3  # seconds for a burst of uploads to arrive before a run starts
IDLE_WAKE = 3600.0  # wake at least hourly: daily pruning, uploads left queued by a restart
PRUNE_EVERY = 86400.0
SPECS_FRESH = 600.0  # seconds a resolution of the model weights is reused

_workers: dict[str, UploadWorker] = {}
_registry = threading.Lock()


def worker_for(config: Mapping[str, Any]) -> UploadWorker:
    """This process's worker for an instance folder, started on first use (one per process)."""
    key = str(config["INSTANCE_PATH"])
    with _registry:
        w = _workers.get(key)
        if w is None or not w.alive():
            w = UploadWorker(config)
            _workers[key] = w
            w.start()
    return w


def notify(config: Mapping[str, Any]) -> None:
    """New uploads are queued: start the worker if needed and wake it."""
    worker_for(config).wake()


def stop_all(timeout: float = 30.0) -> None:
    """Stop every worker of this process (tests; a run in progress finishes first)."""
    with _registry:
        workers = list(_workers.values())
        _workers.clear()
    for w in workers:
        w.stop(timeout)


class UploadWorker:
    """Indexes queued uploads in the background, one run_index call at a time."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = dict(config)
        self.uploads = upload_store.uploads_dir(self.config["INSTANCE_PATH"])
        self.engine = make_engine(self.config["DATABASE_URL"])
        self.retry_seconds = float(self.config.get("UPLOAD_RETRY_SECONDS") or 5)
        self.runs = 0  # finished index runs, for diagnostics and tests
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_prune: float | None = None
        self._specs: tuple[float, list[Any]] | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="atw-upload-indexer", daemon=True)
        self._thread.start()

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stop.is_set()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.engine.dispose()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._maybe_prune()
                while not self._stop.is_set() and self.index_pending():
                    pass
            except Exception:  # a bug must not kill the thread: log it, try again on next wake
                log.exception("upload indexer")
            self._wake.wait(IDLE_WAKE)
            self._wake.clear()
            self._stop.wait(DEBOUNCE)

    def index_pending(self) -> bool:
        """One index run over the uploads folder if any upload is queued; True when there may be
        more to do (a run finished, or another run holds the lock and we must retry)."""
        from atw.core.locks import IndexerBusy
        from atw.core.media import one_line
        from pipelines.run import run_index

        with Session(self.engine) as s:
            ids = upload_store.pending_ids(s)
            if not ids:
                return False
            upload_store.mark(s, ids, "indexing", None)
        cfg = dict(self.config)
        if int(cfg.get("UPLOAD_WORKERS") or 0) > 0:
            cfg["INDEX_WORKERS"] = int(cfg["UPLOAD_WORKERS"])
        self.uploads.mkdir(parents=True, exist_ok=True)
        try:
            specs = self._resolve_specs()
            run_index([str(self.uploads)], cfg, progress=False, source="upload", specs=specs)
        except IndexerBusy:
            with Session(self.engine) as s:
                upload_store.mark(
                    s,
                    ids,
                    "queued",
                    "waiting for another index run on this instance to finish; "
                    f"retrying every {self.retry_seconds:g} s",
                )
            self._stop.wait(self.retry_seconds)
            return True
        except Exception as exc:  # models missing, a worker that cannot start, …
            self._specs = None
            log.warning("upload indexing failed: %s", one_line(exc))
            with Session(self.engine) as s:
                upload_store.mark(s, ids, "failed", f"indexing failed: {one_line(exc)}")
            return False
        with Session(self.engine) as s:
            upload_store.finish(s, ids)
        self.runs += 1
        return True

    def _resolve_specs(self) -> list[Any]:
        """The labelers' specs (weights found, or WeightsMissing), resolved in a short-lived
        process: finding weights imports torchvision (~650 MB resident with the CUDA build of
        PyTorch), which the web process should not carry just to index uploads. Reused for
        SPECS_FRESH seconds; resolved here when this process has torchvision anyway."""
        from pipelines.run import resolve_stages

        if self._specs is not None and time.monotonic() - self._specs[0] < SPECS_FRESH:
            return self._specs[1]
        stages = [s for s in str(self.config.get("LABELERS", "")).split(",") if s.strip()]
        if not stages or "torchvision" in sys.modules:
            specs = resolve_stages(self.config)
        else:
            plain = {
                k: v for k, v in self.config.items() if isinstance(v, str | int | float | bool)
            }
            with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as pool:
                specs = pool.submit(resolve_stages, plain).result()
        self._specs = (time.monotonic(), specs)
        return specs

    def _maybe_prune(self) -> None:
        days = float(self.config.get("UPLOAD_RETENTION_DAYS") or 0)
        if days <= 0:
            return
        if self._last_prune is not None and time.monotonic() - self._last_prune < PRUNE_EVERY:
            return
        from atw.core.locks import IndexerBusy
        from atw.services import retention

        try:
            result = retention.prune(self.config, days=days)
        except IndexerBusy:
            return  # an index run is on: try again at the next wake
        self._last_prune = time.monotonic()
        if result.uploads:
            log.info("upload retention: %s", result.line())
