"""Helpers for the upload and classify tests: CSRF tokens, HTTP uploads, waiting for the
background indexer, and hostile inputs (a pixel bomb, a truncated JPEG)."""

from __future__ import annotations

import io
import re
import struct
import time
import zlib
from pathlib import Path
from typing import Any

from tests.conftest import COCO_DIR, EXIF_DIR

COCO_TRAIN = COCO_DIR / "images" / "train2017"
COCO = [COCO_TRAIN / f"{stem}.jpg" for stem in ("000000000009", "000000000025", "000000000061")]
# HEIC, TIFF, PNG with EXIF orientation 6, and a phone JPEG stored sideways (orientation 6).
EXIF = [
    EXIF_DIR / "IMG_5195.HEIC",
    EXIF_DIR / "DudleyLeavittUtah.tiff",
    EXIF_DIR / "6.png",
    EXIF_DIR / "canon_hdr_NO.jpg",
]


def csrf_token(client: Any, path: str = "/upload") -> str:
    page = client.get(path)
    assert page.status_code == 200, page.status_code
    m = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text)
    assert m, "no CSRF token in the page"
    return m.group(1)


def post_files(
    client: Any, files: list[tuple[bytes, str]], token: str | None, **headers: str
) -> Any:
    """POST /upload as the page's script does (Accept: application/json)."""
    data: dict[str, Any] = {"files": [(io.BytesIO(b), name) for b, name in files]}
    if token is not None:
        data["csrf_token"] = token
    return client.post(
        "/upload",
        data=data,
        content_type="multipart/form-data",
        headers={"Accept": "application/json", **headers},
    )


def upload_paths(client: Any, *paths: Path, **headers: str) -> list[dict[str, Any]]:
    """Upload each file in its own request (as the page does); the per-file results."""
    token = csrf_token(client)
    out = []
    for p in paths:
        r = post_files(client, [(p.read_bytes(), p.name)], token, **headers)
        assert r.status_code == 200, r.get_json()
        out.extend(r.get_json()["files"])
    return out


def wait_done(client: Any, ids: list[int], timeout: float = 240.0, **headers: str) -> list[dict]:  # type: ignore[type-arg]
    """Poll the status endpoint until no upload is queued or indexing; the final statuses."""
    deadline = time.monotonic() + timeout
    query = ",".join(str(i) for i in ids)
    while True:
        r = client.get(f"/upload/status?ids={query}", headers=headers)
        assert r.status_code == 200, r.get_json()
        body = r.get_json()
        if body["pending"] == 0:
            return body["uploads"]
        if time.monotonic() > deadline:
            raise AssertionError(f"uploads still pending after {timeout:g} s: {body}")
        time.sleep(0.5)


def bomb_png(side: int = 20_000) -> bytes:
    """A valid 1-bit PNG of side×side pixels (400 MP at 20000): ~50 kB on disk."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    row = b"\x00" * (1 + (side + 7) // 8)
    comp = zlib.compressobj(9)
    idat = b"".join(comp.compress(row) for _ in range(side)) + comp.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def truncated_jpeg() -> bytes:
    data = COCO[0].read_bytes()
    return data[: len(data) // 3]


def gif_bytes() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buf, "GIF")
    return buf.getvalue()
