"""Walk photo roots: candidate image files (case-insensitive suffixes) with their size and mtime."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

# Folders that hold caches of other tools, never photos of their own.
SKIP_DIRS = {"@eaDir", "#recycle", "$RECYCLE.BIN", "System Volume Information", "__MACOSX"}


@dataclass(frozen=True, slots=True)
class FileEntry:
    """A file found under a root, as stat() saw it during the scan."""

    path: str
    root: str
    size: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class ScanProblem:
    """Something under a root that could not be looked at (an unreadable folder, a broken link)."""

    path: str
    root: str
    reason: str


@cache
def image_suffixes() -> frozenset[str]:
    """Lower-case suffixes of every format Pillow can open here, HEIC/HEIF included."""
    from PIL import Image

    from atw.core.media import register_plugins

    register_plugins()
    exts = {ext.lower() for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN}
    exts |= {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".tif", ".tiff", ".webp", ".heic", ".heif"}
    # Formats Pillow opens but that are not photos (icons, PDF pages, fonts, etc.).
    exts -= {".pdf", ".ico", ".icns", ".cur", ".xbm", ".fli", ".flc", ".ps", ".eps", ".h5", ".hdf"}
    return frozenset(exts)


def is_image_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in image_suffixes()


def walk(root: str, exclude: tuple[str, ...] = ()) -> Iterator[FileEntry | ScanProblem]:
    """Yield image files under root in a stable (sorted) order.

    Symlinked folders are not followed (no loops, no escaping the root); hidden folders and
    known cache folders are skipped; `exclude` folders (atw's own instance folder) are skipped.
    """
    root = os.path.abspath(root)
    if os.path.isfile(root):
        entry = _entry(root, os.path.dirname(root))
        if entry is not None:
            yield entry
        return
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            yield ScanProblem(folder, root, f"cannot list folder: {exc.strerror or exc}")
            continue
        subdirs = []
        for e in entries:
            try:
                if e.is_dir(follow_symlinks=False):
                    if not (e.name.startswith(".") or e.name in SKIP_DIRS or e.path in exclude):
                        subdirs.append(e.path)
                    continue
                if not is_image_name(e.name):
                    continue
                st = e.stat(follow_symlinks=True)
            except OSError as exc:
                yield ScanProblem(e.path, root, f"cannot stat: {exc.strerror or exc}")
                continue
            if os.path.isdir(e.path):  # a symlink to a folder with an image suffix
                yield ScanProblem(e.path, root, "is a folder, not a file")
                continue
            if not stat.S_ISREG(st.st_mode):  # a FIFO would block the reader, a device never ends
                yield ScanProblem(e.path, root, "not a regular file (a pipe, socket or device)")
                continue
            yield FileEntry(e.path, root, st.st_size, st.st_mtime_ns)
        stack.extend(reversed(subdirs))


def _entry(path: str, root: str) -> FileEntry | None:
    if not is_image_name(path):
        return None
    st = os.stat(path)
    return FileEntry(path, root, st.st_size, st.st_mtime_ns)


def under(path: str, root: str) -> bool:
    """True when path is root itself or inside it (string-wise, both absolute)."""
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def norm_root(p: str | Path) -> str:
    return os.path.abspath(os.path.expanduser(str(p)))
