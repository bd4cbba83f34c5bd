"""The instance's index lock: one index run (or upload prune) at a time per instance folder."""

from __future__ import annotations

import os
from typing import Any


class IndexerBusy(RuntimeError):
    """Another index run holds this instance's lock."""


def index_lock(instance_path: str) -> Any:
    """An exclusive lock on <instance>/index.lock, held until the returned file is closed (and
    freed by the system if the process is killed). Raises IndexerBusy, naming the holder's PID,
    when another process holds it."""
    import fcntl

    os.makedirs(instance_path, exist_ok=True)
    # Opened without truncating: only the holder of the lock may rewrite the PID in it (a
    # waiting process that opened with "w" would wipe the holder's PID on every attempt).
    fd = os.open(os.path.join(instance_path, "index.lock"), os.O_RDWR | os.O_CREAT, 0o644)
    fh = os.fdopen(fd, "r+")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = fh.read(32).strip()
        fh.close()
        by = f" (pid {holder})" if holder.isdigit() else ""
        raise IndexerBusy(f"another index run{by} is using {instance_path}; wait for it") from None
    fh.truncate(0)
    fh.write(str(os.getpid()))
    fh.flush()
    return fh
