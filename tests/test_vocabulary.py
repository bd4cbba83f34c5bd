"""Class vocabulary: the committed WordNet data file, words, class groups and group scores."""

from __future__ import annotations

import csv
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import onnx
import pytest

from atw.core import group_scores, vocabulary
from atw.core.group_scores import GroupScore, group_score, photo_groups, score_rows
from atw.core.vocabulary import Vocabulary, normalise
from tests.conftest import IMAGENET_DIR, MODELS, need_shared

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"
YOLO_FILE = MODELS / "yolov8n_int8.onnx"
DOG_BREEDS = range(151, 269)  # ImageNet-1k class indices of the 118 dog breeds
BIRDS = [*range(7, 25), *range(80, 101), *range(127, 147)]  # the 59 bird classes


@pytest.fixture(scope="module")
def data() -> dict:
    return json.loads(vocabulary.DATA_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def v() -> Vocabulary:
    return vocabulary.load()


def _script(monkeypatch: pytest.MonkeyPatch, name: str) -> ModuleType:
    """A module of scripts/ (sys.path and the import are undone after the test)."""
    monkeypatch.syspath_prepend(str(SCRIPTS))
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)
    spec.loader.exec_module(module)
    return module


def _yolo_names() -> list[str]:
    need_shared(YOLO_FILE)
    meta = {p.key: p.value for p in onnx.load(str(YOLO_FILE)).metadata_props}
    names = eval(meta["names"], {})  # a dict literal {0: 'person', …} written by Ultralytics
    return [names[i] for i in sorted(names)]


# -- the data file ------------------------------------------------------------------------


def test_recorded_version_matches_content(data: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """The committed file was written by the build (version = hash of its content), and the
    loader and the build script compute that hash by the same rule."""
    assert data["version"] == vocabulary.content_version(data)
    assert data["version"].startswith("wn3.0-")
    build = _script(monkeypatch, "build_vocabulary")
    assert build.content_version(data) == data["version"]
    assert vocabulary.version() == data["version"]
    changed = {**data, "aliases": {**data["aliases"], "seaside": ["seashore.n.01"]}}
    assert vocabulary.content_version(changed) != data["version"]
    licence = (vocabulary.DATA_FILE.parent / "WORDNET-LICENSE").read_text(encoding="utf-8")
    assert "WordNet 3.0 Copyright 2006 by Princeton University" in licence


def test_all_imagenet_names_in_torchvision_order(data: dict) -> None:
    from torchvision.models._meta import _IMAGENET_CATEGORIES

    assert [row[0] for row in data["imagenet"]] == list(_IMAGENET_CATEGORIES)
    wnids = [row[2] for row in data["imagenet"]]
    assert wnids == sorted(set(wnids)) and len(wnids) == 1000


def test_wnids_agree_with_the_sample_labels(data: dict) -> None:
    """labels.csv of the shared ImageNet samples (an independent source) gives the same wnid
    and name (with "_" for " ") at every class index it covers."""
    need_shared(IMAGENET_DIR / "labels.csv")
    rows = list(csv.DictReader((IMAGENET_DIR / "labels.csv").open(encoding="utf-8")))
    assert len(rows) == 300
    for row in rows:
        label, _, wnid = data["imagenet"][int(row["class_index"])]
        assert (wnid, label) == (row["wnid"], row["name"].replace("_", " "))


def test_coco_table_covers_the_yolo_names(data: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """The hand-made COCO → synset table has exactly the model's 80 names, in its order, and
    the data file holds that table."""
    names = _yolo_names()
    table = _script(monkeypatch, "vocabulary_coco").COCO_SYNSETS
    assert len(names) == 80 and list(table) == names
    assert [row[0] for row in data["coco"]] == names
    assert dict((label, key) for label, key in data["coco"]) == table
    assert table["mouse"] == "mouse.n.04" and table["tv"] == "television.n.02"


def test_every_class_is_a_node_and_resolves(data: dict, v: Vocabulary) -> None:
    aliases = {normalise(w) for w in data["aliases"]}
    for source in vocabulary.SOURCES:
        assert len(v.labels[source]) == (1000 if source == "imagenet" else 80)
        for label in v.labels[source]:
            node = v.class_entry(source, label)
            assert node is not None and label in node.members[source]
            assert v.resolve(node.key) == (node,)
            # a stored label finds its own class, except where a reviewed alias takes the word
            assert node in v.resolve(label) or normalise(label) in aliases, (source, label)
    assert v.resolve("carpenter's plane") == (v.class_entry("imagenet", "plane"),)


def test_members_are_the_hypernym_closure(data: dict, v: Vocabulary) -> None:
    """A node's members are exactly the classes with it among their ancestors (or itself)."""
    nodes = data["nodes"]

    def ancestors(key: str) -> set[str]:
        out, todo = {key}, [key]
        while todo:
            for parent in nodes[todo.pop()]["parents"]:
                if parent not in out:
                    out.add(parent)
                    todo.append(parent)
        return out

    expected: dict[str, dict[str, set[int]]] = {
        k: {"imagenet": set(), "coco": set()} for k in nodes
    }
    for source in vocabulary.SOURCES:
        for i, row in enumerate(data[source]):
            for key in ancestors(row[1]):
                expected[key][source].add(i)
    for key, node in nodes.items():
        assert {s: set(node[s]) for s in vocabulary.SOURCES} == expected[key], key
    assert set(nodes["entity.n.01"]["imagenet"]) == set(range(1000))


def test_dog_bird_and_categories(v: Vocabulary) -> None:
    dog = v.get("dog.n.01")
    assert dog is not None and dog.kind == "group"
    breeds = {v.labels["imagenet"][i] for i in DOG_BREEDS}
    assert set(dog.members["imagenet"]) == breeds and len(breeds) == 118
    assert dog.members["coco"] == ("dog",)
    assert "Sussex spaniel" in dog.members["imagenet"] and "timber wolf" not in breeds
    bird = v.get("bird.n.01")
    assert bird is not None and bird.members["coco"] == ("bird",)
    assert set(bird.members["imagenet"]) == {v.labels["imagenet"][i] for i in BIRDS}
    assert "kite" in bird.members["imagenet"] and "crane bird" in bird.members["imagenet"]
    assert "crane" not in bird.members["imagenet"]  # the machine
    dogs = v.get("category:dogs")
    assert dogs is not None and dogs.members == dog.members
    vehicles = v.get("category:vehicles")
    assert vehicles is not None and vehicles.kind == "category"
    assert {"car", "bus", "boat", "airplane", "train"} <= set(vehicles.members["coco"])
    assert {"sports car", "liner", "airliner", "steam locomotive"} <= set(
        vehicles.members["imagenet"]
    )
    assert "category:cars" in vehicles.children and "category:boats" in vehicles.children


def test_categories_cover_and_do_not_overlap(v: Vocabulary) -> None:
    """15–30 categories; top-level ones share no class; a sub-category lies in its parent;
    nearly every ImageNet class and every COCO class is in a top-level category."""
    assert 15 <= len(v.categories) <= 30
    seen: dict[tuple[str, str], str] = {}
    for key in v.top_categories:
        for source, labels in v.members(key).items():
            for label in labels:
                assert (source, label) not in seen, (label, key, seen.get((source, label)))
                seen[(source, label)] = key
                assert v.top_category(source, label) == key
    for key in v.categories:
        entry = v.get(key)
        assert entry is not None and entry.size > 0
        for parent in entry.parents:
            inside = v.members(parent)
            assert all(set(entry.members[s]) <= set(inside[s]) for s in vocabulary.SOURCES)
    uncovered = [label for label in v.labels["imagenet"] if ("imagenet", label) not in seen]
    assert uncovered == ["bubble"]
    assert all(("coco", label) in seen for label in v.labels["coco"])
    assert v.top_category("coco", "person") == "category:people"
    assert v.top_category("imagenet", "scuba diver") == "category:people"
    assert v.top_category("imagenet", "seashore") == "category:nature"


def test_drill_down_children_lie_inside(v: Vocabulary) -> None:
    for entry in v.entries.values():
        for child in entry.children:
            inner = v.get(child)
            assert inner is not None and inner.key != entry.key
            for s in vocabulary.SOURCES:
                assert set(inner.members[s]) <= set(entry.members[s]), (entry.key, child)
    dog = v.get("dog.n.01")
    assert dog is not None and "hunting_dog.n.01" in dog.children
    animals = v.get("category:animals")
    assert animals is not None and animals.children[:3] == (
        "category:dogs",
        "category:cats",
        "category:birds",
    )


# -- words ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "key"),
    [
        ("automobile", "car.n.01"),
        ("Automobiles", "car.n.01"),
        ("sea coast", "seashore.n.01"),
        ("Sea-Coast", "seashore.n.01"),
        ("SEA_COAST", "seashore.n.01"),
        ("beach", "seashore.n.01"),
        ("Sussex spaniel", "sussex_spaniel.n.01"),
        ("sussex SPANIEL", "sussex_spaniel.n.01"),
        ("  sussex_spaniel ", "sussex_spaniel.n.01"),
        ("Sussex-spaniels", "sussex_spaniel.n.01"),
        ("dog", "dog.n.01"),
        ("Dogs", "category:dogs"),
        ("domestic dog", "dog.n.01"),
        ("geese", "goose.n.01"),
        ("oxen", "cattle.n.01"),
        ("sports cars", "sports_car.n.01"),
        ("tv", "television.n.02"),
        ("boat", "vessel.n.02"),
        ("plane", "heavier-than-air_craft.n.01"),
        ("food", "category:food"),
        ("dog.n.01", "dog.n.01"),
        ("Category:Dogs", "category:dogs"),
        ("Shih Tzu", "shih-tzu.n.01"),
        ("café", None),
    ],
)
def test_words_resolve(v: Vocabulary, word: str, key: str | None) -> None:
    found = v.resolve(word)
    assert [e.key for e in found] == ([key] if key else [])


def test_exact_label_case_and_ambiguous_words(v: Vocabulary) -> None:
    assert [e.name for e in v.resolve("Cardigan")] == ["Cardigan"]  # the corgi
    assert [e.name for e in v.resolve("cardigan")] == ["cardigan"]  # the sweater
    assert {e.key for e in v.resolve("CARDIGAN")} == {"cardigan.n.01", "cardigan.n.02"}
    kite = v.resolve("kite")  # ImageNet's kite is the bird, COCO's the toy: both
    assert {e.key for e in kite} == {"kite.n.03", "kite.n.04"}
    assert v.union(kite) == {"imagenet": {"kite"}, "coco": {"kite"}}
    assert [e.key for e in v.resolve("mouse")] == ["mouse.n.04"]  # no rodent class exists
    bike = v.resolve("bike")
    assert [e.key for e in bike] == ["bicycle.n.01", "motorcycle.n.01"]  # most populated first


def test_unknown_words_get_suggestions(v: Vocabulary) -> None:
    assert v.resolve("automobil") == ()
    assert v.suggest("automobil")[0].entry.key == "car.n.01"
    assert "seashore.n.01" in {s.entry.key for s in v.suggest("sea cost")}
    assert v.suggest("labradors")[0].entry.key == "labrador_retriever.n.01"
    fallback = v.suggest("xyzzy")
    assert fallback and all(s.entry.kind == "category" for s in fallback)
    assert vocabulary.suggest("") and vocabulary.resolve("") == ()


def test_completion_lists_categories_then_larger_entries(v: Vocabulary) -> None:
    got = v.complete("dog")
    assert got[0].entry.key == "category:dogs"
    assert "dog.n.01" in [s.entry.key for s in got]
    sizes = [s.entry.size for s in got if s.entry.kind != "category"]
    assert sizes == sorted(sizes, reverse=True)
    assert v.complete("") == ()


def test_completions_kept_per_prefix_are_the_scans_answers(v: Vocabulary) -> None:
    """The kept answers (per normalised prefix and limit) equal a fresh scan, are asked once,
    and another limit or prefix is its own answer."""
    for typed in ("s", "do", "Do ", "ca", "sea", "zzz", "hot dog"):
        first = v.complete(typed)
        assert first == v._complete(normalise(typed), 20), typed
        assert v.complete(typed) is first
        assert v.complete(typed, 5) == first[:5]
    assert v.complete("do") is v.complete("Do ")
    assert v.complete("zzz") == () and len(v.complete("s")) == 20


# -- classes → groups, scores --------------------------------------------------------------


def test_groups_of_a_stored_class(v: Vocabulary) -> None:
    sussex = vocabulary.groups_of("imagenet", "Sussex spaniel")
    assert {"spaniel.n.01", "dog.n.01", "category:dogs", "category:animals"} <= set(sussex)
    assert "category:vehicles" not in sussex and "sussex_spaniel.n.01" not in sussex
    assert {"dog.n.01", "category:dogs"} <= set(v.groups_of("coco", "dog"))
    assert "television.n.02" not in v.groups_of("coco", "tv")  # its own node is a class
    assert v.groups_of("imagenet", "no such class") == ()
    for key in sussex:
        assert "Sussex spaniel" in v.members(key)["imagenet"]


def test_group_score_semantics_on_hand_made_rows(v: Vocabulary) -> None:
    rows = [
        ("imagenet", "Sussex spaniel", 0.55),
        ("imagenet", "cocker spaniel", 0.30),
        ("imagenet", "tennis ball", 0.05),
        ("coco", "dog", 0.80),
        ("coco", "dog", 0.40),
        ("coco", "sports ball", 0.35),
    ]
    dog = group_score("dog.n.01", rows, v)
    assert dog is not None and (dog.coco, dog.boxes, dog.n) == (0.8, (0.8, 0.4), 2)
    assert dog.score == dog.imagenet == pytest.approx(0.85)  # 0.55 + 0.30 > the best box
    # ImageNet alone: the sum of member probabilities, capped at 1
    capped = group_score("dog.n.01", [("imagenet", "beagle", 0.7), ("imagenet", "pug", 0.6)], v)
    assert capped is not None and capped.score == 1.0 and capped.coco is None and capped.n == 0
    # COCO alone: the best box; boxes keeps the 5 best, n counts all
    boxes = [("coco", "dog", s) for s in (0.3, 0.9, 0.5, 0.25, 0.6, 0.45, 0.7)]
    got = group_score("category:dogs", boxes, v)
    assert got == GroupScore(0.9, None, 0.9, (0.9, 0.7, 0.6, 0.5, 0.45), 7)
    # both sources: the max of the two
    ball = group_score("ball.n.01", rows, v)
    assert ball is not None and (ball.imagenet, ball.coco, ball.score) == (0.05, 0.35, 0.35)
    assert group_score("bird.n.01", rows, v) is None
    assert group_score("sussex_spaniel.n.01", rows, v) == GroupScore(0.55, 0.55, None, (), 0)
    # a ImageNet label is not a COCO label: "kite" in one source is not the other's kite
    assert group_score("bird.n.01", [("coco", "kite", 0.9)], v) is None
    assert score_rows([]) is None


def test_photo_groups_agree_with_group_score(v: Vocabulary) -> None:
    rows = [
        ("imagenet", "Sussex spaniel", 0.55),
        ("imagenet", "seashore", 0.2),
        ("coco", "dog", 0.8),
        ("coco", "person", 0.7),
        ("coco", "person", 0.6),
    ]
    got = photo_groups(rows, v)
    expected = {k for r in rows for k in v.groups_of(r[0], r[1])}
    assert set(got) == expected
    for key, score in got.items():
        assert score == group_score(key, rows, v)
    assert got["category:people"].n == 2 and got["category:nature"].imagenet == 0.2
    assert group_scores.photo_groups([]) == {}


def test_bad_file_is_refused(data: dict, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="format"):
        Vocabulary({**data, "format": 99})
    path = tmp_path / "vocabulary.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    assert vocabulary.load(path).version == data["version"]
    assert vocabulary.load() is vocabulary.load(vocabulary.DATA_FILE)  # read once


# -- the build script's WordNet reader -------------------------------------------------------


def test_wordnet_reader_on_a_tiny_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The wndb(5) reader: lemmas, hypernyms and instance hypernyms, nltk-style names (the
    sense number comes from index.noun's order), the licence header, irregular plurals."""
    build = _script(monkeypatch, "build_vocabulary")
    (tmp_path / "data.noun").write_text(
        "  1 Licence line one.  \n"
        "  2 WordNet 3.0 Copyright 2006 by Princeton University.  \n"
        "00000001 03 n 01 entity 0 000 | that which exists  \n"
        "00000002 05 n 02 dog 0 domestic_dog 0 002 @ 00000001 n 0000 ~ 00000003 n 0000 | a dog  \n"
        "00000003 05 n 01 Sussex_spaniel 0 001 @ 00000002 n 0000 | a spaniel  \n"
        "00000004 18 n 01 dog 1 001 @ 00000001 n 0000 | a dull woman  \n"
        "00000005 05 n 01 Rex 0 001 @i 00000002 n 0000 | one dog  \n",
        encoding="utf-8",
    )
    (tmp_path / "index.noun").write_text(
        "  1 Licence line one.  \n"
        "dog n 2 1 @ 2 1 00000004 00000002  \n"
        "domestic_dog n 1 1 @ 1 0 00000002  \n"
        "entity n 1 1 ~ 1 0 00000001  \n"
        "sussex_spaniel n 1 1 @ 1 0 00000003  \n"
        "rex n 1 1 @i 1 0 00000005  \n",
        encoding="utf-8",
    )
    (tmp_path / "noun.exc").write_text("geese goose\n", encoding="utf-8")
    wn = build.WordNet(tmp_path)
    assert {s.name for s in wn.synsets.values()} == {
        "entity.n.01",
        "dog.n.01",
        "dog.n.02",
        "sussex_spaniel.n.01",
        "rex.n.01",
    }
    assert wn.by_name["dog.n.02"].lemmas == ["dog", "domestic_dog"]
    assert wn.by_name["dog.n.01"].offset == 4  # index.noun lists the woman first
    assert wn.by_name["sussex_spaniel.n.01"].hypernyms == [2]
    assert wn.ancestors(5) == {1, 2}  # through the instance hypernym
    assert "Licence line one." in wn.licence and "Princeton" in wn.licence
    assert wn.plurals == {"geese": "goose"}
