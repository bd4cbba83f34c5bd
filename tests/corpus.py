"""A generated corpus of valid image files in many formats and pixel modes, each holding a known
picture, with the upright RGB rendering a viewer shows for it (to compare thumbnails against)."""

from __future__ import annotations

import io
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import piexif
from PIL import Image, ImageDraw

from tests.photos import pattern

SIZE = (240, 160)  # small enough to be quick, large enough for an ICO entry (≤ 256)


@dataclass(frozen=True)
class Case:
    """One file of the corpus. expected: the picture as a viewer shows it (upright RGB,
    transparency over white, the first frame or page, 16-bit values scaled to 8 bits)."""

    name: str
    expected: Image.Image
    mode: str  # the mode Pillow opens the file in (what the decoder has to cope with)
    scanned: bool = True  # False: the scanner skips this suffix on purpose (icons)


def picture(size: tuple[int, int], seed: int) -> Image.Image:
    """tests/photos.py's asymmetric pattern with two strong marks (a white bar along the top
    left, a black block low on the left), so that even in grey a turn or a mirror shows."""
    img = pattern(size, seed)
    w, h = size
    d = ImageDraw.Draw(img)
    d.rectangle([0, 0, w // 2, h // 8], fill=(255, 255, 255))
    d.rectangle([0, h * 5 // 8, w // 5, h * 7 // 8], fill=(0, 0, 0))
    return img


def over_white(rgb: np.ndarray, alpha: np.ndarray) -> Image.Image:
    """Composite RGB (H×W×3, or H×W grey) with alpha (H×W, 0–255) over white."""
    rgb = rgb.astype(np.float64)
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[:, :, None], 3, axis=2)
    a = alpha.astype(np.float64)[:, :, None] / 255.0
    out = rgb * a + 255.0 * (1.0 - a)
    return Image.fromarray(np.round(out).astype(np.uint8), "RGB")


def alpha_mask(size: tuple[int, int] = SIZE) -> np.ndarray:
    """An asymmetric alpha: a transparent band on the right, a half-transparent one below."""
    w, h = size
    a = np.full((h, w), 255, np.uint8)
    a[:, w * 3 // 4 :] = 0
    a[h * 3 // 4 :, : w // 2] = 128
    return a


def grey16(src: Image.Image) -> np.ndarray:
    """A 16-bit grey version of src that uses the low byte too (so it is truly 16-bit)."""
    g = np.asarray(src.convert("L"), np.uint16)
    ramp = (np.arange(g.shape[1], dtype=np.uint16) * 7 % 256)[None, :]
    return (g << 8) | ramp


def rgb16(src: Image.Image) -> np.ndarray:
    """A 48-bit (3 × 16) version of src."""
    c = np.asarray(src, np.uint16)
    return (c << 8) | np.uint16(0x5A)


def grey_rgb(a8: np.ndarray) -> Image.Image:
    return Image.fromarray(a8.astype(np.uint8), "L").convert("RGB")


# --- writers: each writes one file and returns the expected picture ---------------------------


def tiff_grey16(path: Path, seed: int) -> Image.Image:
    a = grey16(picture(SIZE, seed))
    Image.fromarray(a).save(path, "TIFF")  # Pillow: mode I;16 (little-endian)
    return grey_rgb(a >> 8)


def tiff_grey16_big_endian(path: Path, seed: int) -> Image.Image:
    import tifffile

    a = grey16(picture(SIZE, seed))
    tifffile.imwrite(path, a, byteorder=">", photometric="minisblack")  # Pillow: I;16B
    return grey_rgb(a >> 8)


def tiff_rgb48(path: Path, seed: int, byteorder: str = "<") -> Image.Image:
    import tifffile

    src = picture(SIZE, seed)
    tifffile.imwrite(path, rgb16(src), byteorder=byteorder, photometric="rgb")
    return src


def tiff_rgb48_big_endian(path: Path, seed: int) -> Image.Image:
    return tiff_rgb48(path, seed, ">")


def tiff_float(path: Path, seed: int) -> Image.Image:
    g = np.asarray(picture(SIZE, seed).convert("L"), np.float32)
    Image.fromarray(g / 255.0, "F").save(path, "TIFF")  # intensities 0…1, mode F
    return grey_rgb(g)


def tiff_multipage(path: Path, seed: int) -> Image.Image:
    first = picture(SIZE, seed)
    rest = [picture((200, 300), seed + 50), picture(SIZE, seed + 51).convert("L")]
    first.save(path, "TIFF", save_all=True, append_images=rest)
    return first


def tiff_cmyk(path: Path, seed: int) -> Image.Image:
    src = picture(SIZE, seed)
    src.convert("CMYK").save(path, "TIFF")
    return src


def tiff_lab(path: Path, seed: int) -> Image.Image:
    """A CIELab TIFF (mode LAB), as some scanners and Photoshop write."""
    from PIL import ImageCms

    src = picture(SIZE, seed)
    srgb, lab = ImageCms.createProfile("sRGB"), ImageCms.createProfile("LAB")
    ImageCms.applyTransform(src, ImageCms.buildTransform(srgb, lab, "RGB", "LAB")).save(path)
    return src


def tiff_1bit_group4(path: Path, seed: int) -> Image.Image:
    bw = picture(SIZE, seed).convert("1")
    bw.save(path, "TIFF", compression="group4")
    return bw.convert("RGB")


def png_grey16(path: Path, seed: int) -> Image.Image:
    a = grey16(picture(SIZE, seed))
    Image.fromarray(a).save(path, "PNG")
    return grey_rgb(a >> 8)


def jpeg_cmyk(path: Path, seed: int) -> Image.Image:
    src = picture(SIZE, seed)
    src.convert("CMYK").save(path, "JPEG", quality=95)
    return src


def png_la(path: Path, seed: int) -> Image.Image:
    grey = picture(SIZE, seed).convert("L")
    a = alpha_mask()
    Image.merge("LA", (grey, Image.fromarray(a))).save(path, "PNG")
    return over_white(np.asarray(grey), a)


def _palette_image(seed: int, colours: int = 64) -> Image.Image:
    return picture(SIZE, seed).quantize(colours)


def _palette_rgb(p: Image.Image) -> np.ndarray:
    pal = np.array(p.getpalette("RGB"), np.uint8).reshape(-1, 3)
    return pal[np.asarray(p)]


def png_palette_transparent_index(path: Path, seed: int) -> Image.Image:
    p = _palette_image(seed)
    idx = np.asarray(p)
    clear = int(idx[2, 2])  # the colour of the top-left red block becomes transparent
    p.save(path, "PNG", transparency=clear)
    return over_white(_palette_rgb(p), np.where(idx == clear, 0, 255))


def png_palette_alpha_table(path: Path, seed: int) -> Image.Image:
    """A palette PNG whose tRNS gives every entry its own alpha (a 'PA' picture in a PNG)."""
    p = _palette_image(seed)
    n = len(p.getpalette("RGB")) // 3
    table = np.array([(i * 53) % 256 if i % 3 else 255 for i in range(n)], np.uint8)
    p.save(path, "PNG", transparency=table.tobytes())
    return over_white(_palette_rgb(p), table[np.asarray(p)])


def im_pa(path: Path, seed: int) -> Image.Image:
    """Palette + alpha (mode PA), in the IM format (the Pillow format that stores PA as is)."""
    p = _palette_image(seed)
    a = alpha_mask()
    pa = p.convert("PA")
    pa.putalpha(Image.fromarray(a))
    pa.save(path, "IM")
    return over_white(_palette_rgb(p), a)


def png_1bit(path: Path, seed: int) -> Image.Image:
    bw = picture(SIZE, seed).convert("1")
    bw.save(path, "PNG")
    return bw.convert("RGB")


def apng(path: Path, seed: int) -> Image.Image:
    frames = [picture(SIZE, seed + k * 40).transpose(Image.Transpose(k % 2)) for k in range(3)]
    frames[0].save(path, "PNG", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return frames[0]


def gif_animated(path: Path, seed: int) -> Image.Image:
    frames = [picture(SIZE, seed + k * 40).quantize(128) for k in range(3)]
    frames[1] = frames[1].transpose(Image.Transpose.ROTATE_180)
    frames[0].save(path, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return frames[0].convert("RGB")


def webp_animated(path: Path, seed: int) -> Image.Image:
    frames = [picture(SIZE, seed + k * 40) for k in range(3)]
    frames[1] = frames[1].transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    frames[0].save(
        path, "WEBP", save_all=True, append_images=frames[1:], duration=100, lossless=True
    )
    return frames[0]


def bmp_mode(mode: str) -> Callable[[Path, int], Image.Image]:
    def write(path: Path, seed: int) -> Image.Image:
        src = picture(SIZE, seed)
        img = src.quantize(200) if mode == "P" else src.convert(mode)
        img.save(path, "BMP")  # RGBA: 32-bit BI_RGB, whose fourth byte is unused
        return img.convert("RGB")

    return write


def bmp_alpha_bitfields(path: Path, seed: int) -> Image.Image:
    """A 32-bit BMP with a V5 header whose bit fields include an alpha mask (real alpha)."""
    src = picture(SIZE, seed)
    w, h = SIZE
    bgra = np.dstack([np.asarray(src)[:, :, ::-1], alpha_mask()])[::-1]  # bottom-up
    data = bgra.astype(np.uint8).tobytes()
    masks = struct.pack("<IIIII", 0x00FF0000, 0x0000FF00, 0x000000FF, 0xFF000000, 0x73524742)
    info = struct.pack("<IiiHHIIiiII", 124, w, h, 1, 32, 3, len(data), 2835, 2835, 0, 0)
    info += masks + b"\x00" * 48 + struct.pack("<IIII", 4, 0, 0, 0)
    offset = 14 + len(info)
    header = b"BM" + struct.pack("<IHHI", offset + len(data), 0, 0, offset)
    path.write_bytes(header + info + data)
    return over_white(np.asarray(src), alpha_mask())


def bmp_top_down(path: Path, seed: int) -> Image.Image:
    """A 24-bit BMP stored top row first (negative height), as some scanners write."""
    src = picture(SIZE, seed)
    buf = io.BytesIO()
    src.save(buf, "BMP")
    raw = bytearray(buf.getvalue())
    offset = struct.unpack_from("<I", raw, 10)[0]
    w, h = SIZE
    stride = (w * 3 + 3) // 4 * 4
    rows = [raw[offset + i * stride : offset + (i + 1) * stride] for i in range(h)]
    struct.pack_into("<i", raw, 22, -h)
    path.write_bytes(bytes(raw[:offset]) + b"".join(reversed(rows)))
    return src


def bmp_rle8(path: Path, seed: int) -> Image.Image:
    """An 8-bit run-length encoded BMP (BI_RLE8), which Pillow reads but cannot write."""
    p = picture(SIZE, seed).quantize(100)
    idx = np.asarray(p)
    pal = np.array(p.getpalette("RGB"), np.uint8).reshape(-1, 3)
    h, w = idx.shape
    data = bytearray()
    for row in idx[::-1]:  # bottom-up
        x = 0
        while x < w:
            n = 1
            while x + n < w and n < 255 and row[x + n] == row[x]:
                n += 1
            data += bytes((n, int(row[x])))
            x += n
        data += b"\x00\x00"  # end of line
    data += b"\x00\x01"  # end of bitmap
    palette = b"".join(bytes((b, g, r, 0)) for r, g, b in pal) + b"\x00" * 4 * (256 - len(pal))
    offset = 14 + 40 + len(palette)
    info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 8, 1, len(data), 2835, 2835, 256, 0)
    header = b"BM" + struct.pack("<IHHI", offset + len(data), 0, 0, offset)
    path.write_bytes(header + info + palette + bytes(data))
    return Image.fromarray(pal[idx], "RGB")


def ico(bitmap_format: str) -> Callable[[Path, int], Image.Image]:
    def write(path: Path, seed: int) -> Image.Image:
        src = picture(SIZE, seed)
        img = src.copy()
        img.putalpha(Image.fromarray(alpha_mask()))
        img.save(path, "ICO", sizes=[(32, 32), SIZE], bitmap_format=bitmap_format)
        return over_white(np.asarray(src), alpha_mask())

    return write


def heic_rotated(path: Path, seed: int) -> Image.Image:
    """A HEIC whose pixels are stored turned, with EXIF orientation 6 (and the matching HEIF
    rotation pillow-heif writes for it), as a phone held upright stores them."""
    upright = picture(SIZE, seed)
    exif = piexif.dump({"0th": {piexif.ImageIFD.Orientation: 6}})
    upright.transpose(Image.Transpose.ROTATE_90).save(path, "HEIF", exif=exif, quality=92)
    return upright


def psd_layered(path: Path, seed: int) -> Image.Image:
    """A Photoshop file with two layers (and its flattened composite), via psd-tools."""
    from psd_tools import PSDImage

    src = picture(SIZE, seed)
    patch = Image.new("RGB", (60, 40), (20, 20, 240))
    psd = PSDImage.new("RGB", SIZE)
    psd.create_pixel_layer(src, name="background")
    psd.create_pixel_layer(patch, name="patch", top=100, left=20)
    psd.save(path)
    flat = src.copy()
    flat.paste(patch, (20, 100))
    return flat


WRITERS: list[tuple[str, str, Callable[[Path, int], Image.Image]]] = [
    ("tiff-grey16.tif", "I;16", tiff_grey16),
    ("tiff-grey16-big-endian.tif", "I;16B", tiff_grey16_big_endian),
    ("tiff-rgb48.tif", "RGB", tiff_rgb48),
    ("tiff-rgb48-big-endian.tiff", "RGB", tiff_rgb48_big_endian),
    ("tiff-float.tif", "F", tiff_float),
    ("tiff-multipage.tif", "RGB", tiff_multipage),
    ("tiff-cmyk.tif", "CMYK", tiff_cmyk),
    ("tiff-lab.tif", "LAB", tiff_lab),
    ("tiff-1bit-group4.tif", "1", tiff_1bit_group4),
    ("png-grey16.png", "I;16", png_grey16),
    ("jpeg-cmyk.jpg", "CMYK", jpeg_cmyk),
    ("png-la.png", "LA", png_la),
    ("png-palette-transparent-index.png", "P", png_palette_transparent_index),
    ("png-palette-alpha-table.png", "P", png_palette_alpha_table),
    ("im-pa.im", "PA", im_pa),
    ("png-1bit.png", "1", png_1bit),
    ("apng.png", "RGB", apng),
    ("gif-animated.gif", "P", gif_animated),
    ("webp-animated.webp", "RGBA", webp_animated),
    ("bmp-1bit.bmp", "1", bmp_mode("1")),
    ("bmp-8bit-grey.bmp", "L", bmp_mode("L")),
    ("bmp-8bit-palette.bmp", "P", bmp_mode("P")),
    ("bmp-24bit.bmp", "RGB", bmp_mode("RGB")),
    ("bmp-32bit.bmp", "RGB", bmp_mode("RGBA")),
    ("bmp-32bit-alpha.bmp", "RGBA", bmp_alpha_bitfields),
    ("bmp-top-down.bmp", "RGB", bmp_top_down),
    ("bmp-rle8.bmp", "P", bmp_rle8),
    ("ico-png.ico", "RGBA", ico("png")),
    ("ico-bmp.ico", "RGBA", ico("bmp")),
    ("heic-rotated.heic", "RGB", heic_rotated),
    ("psd-layered.psd", "RGB", psd_layered),
]


def build(folder: Path) -> list[Case]:
    """Write every corpus file into folder; the cases in WRITERS order."""
    from pipelines.scan import is_image_name

    folder.mkdir(parents=True, exist_ok=True)
    cases = []
    for seed, (name, mode, write) in enumerate(WRITERS, start=1):
        expected = write(folder / name, seed)
        cases.append(Case(name, expected.convert("RGB"), mode, is_image_name(name)))
    return cases


# --- comparing pictures ----------------------------------------------------------------------


def difference(a: Image.Image, b: Image.Image, size: tuple[int, int] = (48, 32)) -> float:
    """Mean absolute difference (0–255) of two pictures, both scaled down to size."""
    sa = np.asarray(a.convert("RGB").resize(size, Image.Resampling.BOX), np.float64)
    sb = np.asarray(b.convert("RGB").resize(size, Image.Resampling.BOX), np.float64)
    return float(np.abs(sa - sb).mean())


def wrong_ways(img: Image.Image) -> dict[str, Image.Image]:
    """The seven other ways a picture could have been turned or mirrored."""
    return {t.name: img.transpose(t) for t in Image.Transpose}
