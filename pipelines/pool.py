"""Worker processes (one per core, one thread each), a per-file time limit, crash recovery."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait

from pipelines.worker import Result, Task, WorkerConfig

THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
STARTUP_TIMEOUT = 600.0
# Tests only: a worker given a file of this name crashes (SIGSEGV) as a decoder bug would, so that
# the recovery (quarantine with the reason, a fresh worker) is tested on every engine.
CRASH_ON = "ATW_TEST_CRASH_ON"


class WorkerStartupError(RuntimeError):
    """A worker could not start (a model failed to load); the run stops before any work."""


def _worker_main(conn: Connection, cfg: WorkerConfig) -> None:
    # One intra-op thread per process: more threads than cores makes PyTorch 10–100× slower.
    for name in THREAD_ENV:
        os.environ[name] = "1"
    try:
        from pipelines.worker import Worker

        if cfg.specs:
            import torch

            torch.set_num_threads(1)
            torch.set_num_interop_threads(1)
        worker = Worker(cfg)
    except BaseException as exc:
        conn.send(("fatal", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", None))
    crash_on = os.environ.get(CRASH_ON)
    while True:
        try:
            task = conn.recv()
        except (EOFError, KeyboardInterrupt):
            return
        if task is None:
            return
        if crash_on and os.path.basename(task.path) == crash_on:
            os.kill(os.getpid(), signal.SIGSEGV)
        conn.send(("result", worker(task)))


@dataclass
class _Slot:
    proc: mp.process.BaseProcess
    conn: Connection
    task: Task | None = None
    started: float = 0.0


class Pool:
    """Runs tasks over N worker processes; yields one Result per task, in completion order.

    A file that takes longer than `timeout` seconds, or that kills its worker (a crash in a
    decoder, the OOM killer), comes back as an error Result and the worker is replaced."""

    def __init__(self, workers: int, cfg: WorkerConfig, timeout: float) -> None:
        self.cfg = cfg
        self.timeout = timeout
        self.ctx = mp.get_context("spawn")
        self.slots = [self._start() for _ in range(max(1, workers))]
        for slot in self.slots:
            self._await_ready(slot)

    def _start(self) -> _Slot:
        parent, child = self.ctx.Pipe()
        proc = self.ctx.Process(target=_worker_main, args=(child, self.cfg), daemon=True)
        proc.start()
        child.close()
        return _Slot(proc, parent)

    def _await_ready(self, slot: _Slot) -> None:
        if not slot.conn.poll(STARTUP_TIMEOUT):
            raise WorkerStartupError("a worker did not start within 10 minutes")
        try:
            kind, msg = slot.conn.recv()
        except EOFError:
            raise WorkerStartupError(
                f"a worker died at start (exit {slot.proc.exitcode})"
            ) from None
        if kind == "fatal":
            raise WorkerStartupError(msg)

    def run(self, tasks: Iterable[Task]) -> Iterator[Result]:
        pending = deque(tasks) if not isinstance(tasks, deque) else tasks
        while True:
            for slot in self.slots:
                if slot.task is None and pending:
                    slot.task = pending.popleft()
                    slot.started = time.monotonic()
                    slot.conn.send(slot.task)
            busy = [s for s in self.slots if s.task is not None]
            if not busy:
                return
            deadline = min(s.started for s in busy) + self.timeout
            ready = wait(
                [s.conn for s in busy] + [s.proc.sentinel for s in busy],
                timeout=max(0.0, deadline - time.monotonic()),
            )
            for i, slot in enumerate(self.slots):
                if slot.task is None:
                    continue
                if slot.conn in ready or slot.proc.sentinel in ready:
                    result = self._collect(slot)
                    if result is not None:
                        yield result
                elif time.monotonic() - slot.started > self.timeout:
                    task = slot.task
                    self._replace(i)
                    yield _error(task, f"took longer than FILE_TIMEOUT ({self.timeout:g} s)")

    def _collect(self, slot: _Slot) -> Result | None:
        task = slot.task
        assert task is not None
        try:
            if slot.conn.poll():
                _kind, result = slot.conn.recv()
                slot.task = None
                return result
        except (EOFError, OSError):
            pass
        if slot.proc.is_alive():
            return None
        code = slot.proc.exitcode
        self._replace(self.slots.index(slot))
        return _error(task, f"the decoder crashed on this file (worker exit code {code})")

    def _replace(self, i: int) -> None:
        old = self.slots[i]
        if old.proc.is_alive():
            old.proc.kill()
        old.proc.join(5)
        old.conn.close()
        self.slots[i] = self._start()
        self._await_ready(self.slots[i])

    def close(self) -> None:
        for slot in self.slots:
            with contextlib.suppress(OSError):
                slot.conn.send(None)
        for slot in self.slots:
            slot.proc.join(10)
            if slot.proc.is_alive():
                slot.proc.kill()

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _error(task: Task, reason: str) -> Result:
    return Result(task=task, kind="error", size=task.size, mtime_ns=task.mtime_ns, reason=reason)
