"""The Ray engine of an index run: tasks as a Ray Data dataset mapped by an actor pool.

`atw index --engine ray` (INDEX_ENGINE=ray) runs the same per-file work as the local pool
(pipelines/pool.py) on a Ray cluster: the run's task list becomes a dataset, an actor pool maps
it, and the results stream back to the run's one writer, which commits them in batches as it
does for the local pool. Each actor holds a pool of one worker process (the local pool's own
code, pipelines.pool.Pool): the models live there, and a file that crashes or hangs the decoder
kills only that process, so the actor answers with an error Result (quarantined with its reason)
and starts a fresh worker. (An actor lost for another reason, its node gone, is Ray Data's to
restart: its actor pools allow restarts; not tested here.) Thumbnails come back inside the
Results (WorkerConfig.thumbs_inline) and the run writes them: only the photos must be readable
at the same path on every node, plus a DATABASE_URL every node reaches (PostgreSQL) for the
workers' read of what is indexed already.

Ray is the `cluster` extra and is imported only here, on first use."""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import Any

from pipelines.pool import Pool, WorkerStartupError
from pipelines.worker import Result, Task, WorkerConfig

# Tasks per Ray Data block: small blocks keep every actor busy to the end and stream results
# back steadily; each block costs Ray a few milliseconds (bench/ray_overhead.py measures the
# whole).
MAX_BLOCK_ROWS = 16


class RayUnavailable(RuntimeError):
    """The Ray engine was asked for without Ray installed."""


def _ray() -> Any:
    try:
        import ray
        import ray.data  # (the dataset API is a module of its own)
    except ImportError:
        raise RayUnavailable(
            "--engine ray needs Ray: pip install 'atw[cluster]' (ray[data]) on every node"
        ) from None
    return ray


class RaySession:
    """Ray for the length of a run: connects to `address` (a cluster's head, host:port), or
    starts a Ray instance on this machine when it is empty, unless this process is connected
    already; closes only what it started. Usage statistics stay off for an instance it starts."""

    def __init__(self, address: str = "", gpus: float = 0.0) -> None:
        self.ray = _ray()
        self.gpus = gpus
        self.started = False
        if not self.ray.is_initialized():
            if address:
                self.ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
            else:
                os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
                self.ray.init(
                    include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING
                )
            self.started = True
        ctx = self.ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False  # the run draws its own bar
        logging.getLogger("ray.data").setLevel(logging.WARNING)

    def actors(self, wanted: int) -> int:
        """Actors of a pool: `wanted`, else one per CPU of the cluster (with GPUs per actor, no
        more than the cluster's GPUs hold)."""
        res = self.ray.cluster_resources()
        n = wanted or int(res.get("CPU", 1))
        if self.gpus > 0:
            n = min(n, int(res.get("GPU", 0) / self.gpus))
            if n < 1:
                raise RuntimeError(f"the Ray cluster has no GPU for actors of {self.gpus:g} GPU")
        return max(1, n)

    def pool(self, workers: int, cfg: WorkerConfig, timeout: float) -> RayPool:
        return RayPool(self, workers, cfg, timeout)

    def close(self) -> None:
        if self.started:
            self.ray.shutdown()
            self.started = False

    def __enter__(self) -> RaySession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Labeller:
    """One actor of the pool: a local pool of one worker process (the models are loaded
    there), a task in and its Result out, both pickled."""

    def __init__(self, cfg: WorkerConfig, timeout: float) -> None:
        self.pool = Pool(1, cfg, timeout)

    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:
        task: Task = pickle.loads(row["task"])
        (result,) = list(self.pool.run([task]))  # one Result per task, errors included
        return {"result": pickle.dumps(result)}

    def __del__(self) -> None:
        pool = getattr(self, "pool", None)
        if pool is not None:
            pool.close()


def _startup_error(exc: Exception) -> WorkerStartupError | None:
    """The WorkerStartupError an actor died of (its worker could not load a model, or the device
    LABEL_DEVICE names), from the text Ray carries back; None for any other death."""
    marker = f"{WorkerStartupError.__name__}: "
    for line in reversed(str(exc).splitlines()):
        if marker in line:
            return WorkerStartupError(line.split(marker, 1)[1].strip())
    return None


class RayPool:
    """Runs tasks on `workers` Ray actors (0: one per cluster CPU); yields one Result per task,
    in completion order, like pipelines.pool.Pool."""

    def __init__(self, session: RaySession, workers: int, cfg: WorkerConfig, timeout: float):
        self.session = session
        self.workers = workers
        self.cfg = replace(cfg, thumbs_inline=True)
        self.timeout = timeout

    def run(self, tasks: Iterable[Task]) -> Iterator[Result]:
        rows = [{"task": pickle.dumps(t)} for t in tasks]
        if not rows:
            return
        ray = self.session.ray
        actors = min(self.session.actors(self.workers), len(rows))
        per_block = max(1, min(MAX_BLOCK_ROWS, len(rows) // (actors * 8)))
        ds = ray.data.from_items(rows, override_num_blocks=-(-len(rows) // per_block))
        ds = ds.map(
            _Labeller,
            fn_constructor_args=(self.cfg, self.timeout),
            compute=ray.data.ActorPoolStrategy(size=actors),
            num_cpus=1,
            num_gpus=self.session.gpus or None,
        )
        try:
            for row in ds.iter_rows():
                yield pickle.loads(row["result"])
        except ray.exceptions.RayError as exc:  # an actor died: say why, as the local pool does
            raise _startup_error(exc) or exc from None

    def close(self) -> None:
        """(The actors end with their dataset.)"""

    def __enter__(self) -> RayPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
