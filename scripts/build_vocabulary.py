"""Builds atw/core/data/vocabulary.json: WordNet 3.0 groups over ImageNet and COCO classes (once).

Inputs (none of them needed at run time or in CI, which use the committed file):
- WordNet 3.0 noun files, e.g. Debian's `wordnet-base` (apt-get install wordnet-base →
  /usr/share/wordnet): data.noun, index.noun, noun.exc. Read here directly (format: wndb(5)).
- The 1000 ImageNet-1k wnids in class-index (sorted-wnid) order: timm's
  `timm/data/_info/imagenet_synsets.txt` (Apache-2.0), read from a timm wheel
  (`pip download --no-deps timm==1.0.31`) or from the extracted text file.
- torchvision's class names (`weights.meta["categories"]`), the strings the index stores.
- scripts/vocabulary_coco.py (COCO → synset, aliases), scripts/vocabulary_categories.py: the
  reviewed tables.

    .venv/bin/python scripts/build_vocabulary.py --wnids timm-1.0.31-py3-none-any.whl \
        [--wordnet /usr/share/wordnet] [--yolo ../shared/models/yolov8n_int8.onnx] \
        [--check-labels ../shared/photos/imagenet-samples/labels.csv] [--report]

It refuses to write when a torchvision name does not match its synset's lemmas (two reviewed
exceptions), when a table names an unknown synset, or when a category ends up empty.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import re
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from vocabulary_categories import CATEGORIES
from vocabulary_coco import ALIASES, COCO_SYNSETS

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "atw" / "core" / "data" / "vocabulary.json"
LICENSE_OUT = ROOT / "atw" / "core" / "data" / "WORDNET-LICENSE"
TIMM_WNIDS = "timm/data/_info/imagenet_synsets.txt"
FORMAT = 1
# torchvision renamed two of ImageNet's duplicate names so that all 1000 are distinct; their
# synsets' lemmas are just "crane" and "maillot, tank suit".
NAME_EXCEPTIONS = {"crane bird": "n02012849", "maillot tank suit": "n03710721"}


def norm(text: str) -> str:
    """The comparison form of a name (same rule as atw.core.vocabulary.normalise, ASCII only)."""
    text = re.sub(r"[_\-]", " ", text.casefold())
    text = re.sub(r"['.]", "", text)
    return " ".join(text.split())


@dataclass
class Synset:
    offset: int
    lemmas: list[str]
    hypernyms: list[int]
    name: str = ""


class WordNet:
    """The noun part of a WordNet 3.0 database directory (data.noun, index.noun, noun.exc)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.synsets: dict[int, Synset] = {}
        header: list[str] = []
        with (root / "data.noun").open(encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("  "):  # the licence header
                    header.append(re.sub(r"^\s+\d+ ?", "", line).rstrip())
                    continue
                fields = line.partition(" | ")[0].split()
                count = int(fields[3], 16)
                lemmas = fields[4 : 4 + 2 * count : 2]
                at = 4 + 2 * count
                hypernyms = []
                for i in range(int(fields[at])):
                    symbol, offset, pos = fields[at + 1 + 4 * i : at + 4 + 4 * i]
                    if symbol in ("@", "@i") and pos == "n":  # hypernym, instance hypernym
                        hypernyms.append(int(offset))
                self.synsets[int(fields[0])] = Synset(int(fields[0]), lemmas, hypernyms)
        self.licence = (
            "vocabulary.json holds lemmas and hypernym links taken from WordNet 3.0 (Princeton\n"
            "University), read from Debian's wordnet-base package; WordNet's licence follows.\n\n"
            + "\n".join(header).strip()
            + "\n"
        )
        senses: dict[str, list[int]] = {}
        with (root / "index.noun").open(encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("  "):
                    continue
                fields = line.split()
                pointers = int(fields[3])
                senses[fields[0]] = [int(o) for o in fields[6 + pointers :]]
        for s in self.synsets.values():  # nltk 3.10's naming: first lemma (lower case).n.sense
            first = s.lemmas[0].lower()
            s.name = f"{first}.n.{senses[first].index(s.offset) + 1:02d}"
        self.by_name = {s.name: s for s in self.synsets.values()}
        self.plurals: dict[str, str] = {}
        for line in (root / "noun.exc").read_text(encoding="utf-8").splitlines():
            inflected, base = line.split()[:2]
            self.plurals.setdefault(inflected, base)
        self.digest = hashlib.sha256((root / "data.noun").read_bytes()).hexdigest()

    def synset(self, name: str) -> Synset:
        if name not in self.by_name:
            raise SystemExit(f"unknown WordNet synset {name!r}")
        return self.by_name[name]

    def ancestors(self, offset: int) -> set[int]:
        seen: set[int] = set()
        todo = [offset]
        while todo:
            for h in self.synsets[todo.pop()].hypernyms:
                if h not in seen:
                    seen.add(h)
                    todo.append(h)
        return seen


def read_wnids(path: Path) -> tuple[list[str], str]:
    """The 1000 wnids (text file, one a line, or read inside a timm wheel) and their sha256."""
    if path.suffix in (".whl", ".zip"):
        with zipfile.ZipFile(path) as zf:
            raw = zf.read(TIMM_WNIDS)
    else:
        raw = path.read_bytes()
    wnids = raw.decode("ascii").split()
    if len(wnids) != 1000 or wnids != sorted(set(wnids)):
        raise SystemExit(f"{path}: expected 1000 distinct wnids in sorted order")
    return wnids, hashlib.sha256(raw).hexdigest()


def check_imagenet(wn: WordNet, wnids: list[str], names: list[str]) -> None:
    """Every torchvision name must be a lemma of its synset (bar the two reviewed renames)."""
    bad = []
    for wnid, name in zip(wnids, names, strict=True):
        lemmas = {norm(lemma) for lemma in wn.synsets[int(wnid[1:])].lemmas}
        if norm(name) not in lemmas and NAME_EXCEPTIONS.get(name) != wnid:
            bad.append(f"{wnid} {name!r} not in {sorted(lemmas)}")
    if bad:
        raise SystemExit("class names do not match their synsets:\n" + "\n".join(bad))


def check_labels_csv(path: Path, wnids: list[str], names: list[str]) -> int:
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    for row in rows:
        i = int(row["class_index"])
        if wnids[i] != row["wnid"] or norm(names[i]) != norm(row["name"]):  # it has "_" for " "
            raise SystemExit(f"{path}: row {row} disagrees with {wnids[i]} {names[i]!r}")
    return len(rows)


def yolo_names(model: Path) -> list[str]:
    import ast

    import onnxruntime

    meta = onnxruntime.InferenceSession(str(model)).get_modelmeta().custom_metadata_map
    names = ast.literal_eval(meta["names"])
    return [names[i] for i in sorted(names)]


def build(wn: WordNet, wnids: list[str], names: list[str], provenance: dict) -> dict:
    sources = {
        "imagenet": [(name, int(w[1:])) for name, w in zip(names, wnids, strict=True)],
        "coco": [(label, wn.synset(key).offset) for label, key in COCO_SYNSETS.items()],
    }
    members: dict[int, dict[str, set[int]]] = {}
    for source, classes in sources.items():
        for index, (_, offset) in enumerate(classes):
            for node in {offset} | wn.ancestors(offset):
                members.setdefault(node, {"imagenet": set(), "coco": set()})[source].add(index)
    label_of: dict[int, str] = {}
    for source in ("coco", "imagenet"):  # an ImageNet label wins as display name
        label_of.update({offset: label for label, offset in sources[source]})
    nodes = {}
    for offset, found in members.items():
        s = wn.synsets[offset]
        nodes[s.name] = {
            "name": label_of.get(offset, s.lemmas[0].replace("_", " ")),
            "lemmas": [lemma.replace("_", " ") for lemma in s.lemmas],
            "parents": [wn.synsets[h].name for h in s.hypernyms],
            "imagenet": sorted(found["imagenet"]),
            "coco": sorted(found["coco"]),
        }
    categories = resolve_categories(nodes)
    for word, keys in ALIASES.items():
        if unknown := [k for k in keys if k not in nodes]:
            raise SystemExit(f"alias {word!r}: {unknown} are no ancestors of any class")
    labels = {norm(label) for classes in sources.values() for label, _ in classes}
    if clash := labels & {norm(w) for c in CATEGORIES for w in c["words"]}:
        raise SystemExit(f"category words {clash} would hide stored class labels")
    words = {norm(lemma) for node in nodes.values() for lemma in node["lemmas"]}
    words |= {norm(label) for classes in sources.values() for label, _ in classes}
    plurals = {
        p: s for p, s in sorted(wn.plurals.items()) if norm(s) in words and norm(p) != norm(s)
    }
    data = {
        "format": FORMAT,
        "provenance": provenance,
        "imagenet": [[label, wn.synsets[o].name, f"n{o:08d}"] for label, o in sources["imagenet"]],
        "coco": [[label, wn.synsets[o].name] for label, o in sources["coco"]],
        "nodes": dict(sorted(nodes.items())),
        "categories": categories,
        "aliases": {word: list(keys) for word, keys in ALIASES.items()},
        "plurals": plurals,
    }
    data["version"] = content_version(data)
    return data


Members = dict[str, set[int]]


def resolve_categories(nodes: dict) -> list[dict]:
    """Members of every category (see vocabulary_categories.py); refuses an inconsistent table."""
    coco_index = {label: i for i, label in enumerate(COCO_SYNSETS)}
    defs = {c["key"]: c for c in CATEGORIES}
    tops = [c["key"] for c in CATEGORIES if not c["parent"]]
    own: dict[str, Members] = {}
    for cat in CATEGORIES:
        got: Members = {"imagenet": set(), "coco": set()}
        for key in cat["include"]:
            if key not in nodes:
                raise SystemExit(f"category {cat['key']}: {key} is no ancestor of any class")
            for source in got:
                got[source] |= set(nodes[key][source])
        got["coco"] |= {coco_index[label] for label in cat["coco"]}
        for key in cat["exclude"]:
            for source in got:
                got[source] -= set(nodes[key][source]) if key in nodes else set()
        own[cat["key"]] = got
    for cat in CATEGORIES:
        if cat["parent"]:
            if cat["parent"] not in tops:
                raise SystemExit(f"category {cat['key']}: parent {cat['parent']} is not top-level")
            for source in own[cat["parent"]]:
                own[cat["parent"]][source] |= own[cat["key"]][source]
    done: dict[str, Members] = {}

    def final(key: str, stack: tuple[str, ...]) -> Members:
        if key in stack:
            raise SystemExit(f"categories exclude each other in a cycle: {(*stack, key)}")
        if key not in done:
            cat = defs[key]
            got = {source: set(v) for source, v in own[key].items()}
            others = tops if "*" in cat["not_in"] else cat["not_in"]
            for other in others:
                if other not in (key, cat["parent"]):
                    for source, v in final(other, (*stack, key)).items():
                        got[source] -= v
            done[key] = got
        return done[key]

    out = []
    for cat in CATEGORIES:
        got = final(cat["key"], ())
        if not got["imagenet"] and not got["coco"]:
            raise SystemExit(f"category {cat['key']} has no member class")
        if cat["parent"] and any(got[s] - final(cat["parent"], ())[s] for s in got):
            raise SystemExit(f"category {cat['key']} is not inside {cat['parent']}")
        out.append(
            {
                "key": "category:" + cat["key"],
                "name": cat["name"],
                "words": list(cat["words"]),
                "parent": "category:" + cat["parent"] if cat["parent"] else None,
                "include": list(cat["include"]),
                "exclude": list(cat["exclude"]),
                "coco_extra": list(cat["coco"]),
                "not_in": list(cat["not_in"]),
                "imagenet": sorted(got["imagenet"]),
                "coco": sorted(got["coco"]),
            }
        )
    for i, a in enumerate(tops):
        for b in tops[i + 1 :]:
            both = {s: done[a][s] & done[b][s] for s in done[a]}
            if any(both.values()):
                raise SystemExit(f"top-level categories {a} and {b} share classes {both}")
    words = [norm(w) for cat in CATEGORIES for w in cat["words"]]
    if len(words) != len(set(words)):
        raise SystemExit("a category word is used twice")
    return out


def content_version(data: dict) -> str:
    """WordNet version + a hash of everything but the version itself (same rule as the loader)."""
    body = {k: v for k, v in data.items() if k != "version"}
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "wn3.0-" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def dump(data: dict) -> str:
    """JSON with one node / category / class per line, so that a rebuild diffs readably."""
    out = ["{"]
    keys = list(data)
    for n, key in enumerate(keys):
        value = data[key]
        end = "," if n < len(keys) - 1 else ""
        if key in ("nodes", "aliases", "plurals", "provenance"):
            inner = [
                f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in value.items()
            ]
            out.append(f"{json.dumps(key)}: {{\n" + ",\n".join(inner) + f"\n}}{end}")
        elif key in ("imagenet", "coco", "categories"):
            inner = [f"  {json.dumps(v, ensure_ascii=False)}" for v in value]
            out.append(f"{json.dumps(key)}: [\n" + ",\n".join(inner) + f"\n]{end}")
        else:
            out.append(f"{json.dumps(key)}: {json.dumps(value)}{end}")
    return "\n".join(out) + "\n}\n"


def report(data: dict) -> None:
    names = [row[0] for row in data["imagenet"]]
    top = [c for c in data["categories"] if c["parent"] is None]
    where: dict[int, list[str]] = {i: [] for i in range(len(names))}
    for cat in data["categories"]:
        print(f"{cat['key']:32} imagenet {len(cat['imagenet']):4}  coco {len(cat['coco']):3}")
    for cat in top:
        for i in cat["imagenet"]:
            where[i].append(cat["key"])
    none = [names[i] for i, cats in where.items() if not cats]
    many = [(names[i], cats) for i, cats in where.items() if len(cats) > 1]
    coco_none = [
        label for i, (label, _) in enumerate(data["coco"]) if not any(i in c["coco"] for c in top)
    ]
    print(
        f"nodes {len(data['nodes'])}, categories {len(data['categories'])} ({len(top)} top-level)"
    )
    print(f"ImageNet classes in no top-level category: {len(none)}: {none}")
    print(f"ImageNet classes in several top-level categories: {len(many)}: {many}")
    print(f"COCO classes in no top-level category: {coco_none}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--wordnet", type=Path, default=Path("/usr/share/wordnet"))
    ap.add_argument("--wnids", type=Path, required=True, help="timm wheel or imagenet_synsets.txt")
    ap.add_argument("--check-labels", type=Path, help="a labels.csv (class_index, wnid, name)")
    ap.add_argument("--yolo", type=Path, help="a YOLO .onnx whose `names` must equal the table")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--report", action="store_true", help="print category coverage")
    args = ap.parse_args()

    from torchvision.models._meta import _IMAGENET_CATEGORIES

    names = list(_IMAGENET_CATEGORIES)
    wn = WordNet(args.wordnet)
    wnids, wnids_sha = read_wnids(args.wnids)
    check_imagenet(wn, wnids, names)
    if args.check_labels:
        n = check_labels_csv(args.check_labels, wnids, names)
        print(f"{args.check_labels}: {n} rows agree")
    if args.yolo and yolo_names(args.yolo) != list(COCO_SYNSETS):
        raise SystemExit(f"{args.yolo}: its class names differ from COCO_SYNSETS")
    import torchvision

    provenance = {
        "wordnet": "WordNet 3.0 (Princeton), noun database; data.noun sha256 " + wn.digest,
        "imagenet_wnids": f"timm's {TIMM_WNIDS} (Apache-2.0; timm 1.0.31); sha256 {wnids_sha}",
        "imagenet_names": f"torchvision {torchvision.__version__.split('+')[0]} "
        'weights.meta["categories"]',
        "coco_names": "Ultralytics YOLO `names` metadata (80 COCO classes)",
    }
    data = build(wn, wnids, names, provenance)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(dump(data), encoding="utf-8")
    if args.out == OUT:
        LICENSE_OUT.write_text(wn.licence, encoding="utf-8")
    size = args.out.stat().st_size
    print(f"{args.out}: {size} bytes, {len(data['nodes'])} nodes, {data['version']}")
    if args.report:
        report(data)


if __name__ == "__main__":
    main()
