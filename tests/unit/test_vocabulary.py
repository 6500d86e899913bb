"""The class table: which model answers which class, and the words users type for them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot import vocabulary
from bot.vocabulary import (
    ANSWERED_BY,
    BLAZEFACE,
    CLASS_GROUPS,
    CLASS_NAMES,
    COCO,
    OIDV4,
    RENAMED_LABELS,
    SCORE_THRESHOLDS,
    SYNONYMS,
    labels_for,
    labels_needed,
)
from tests.support.paths import REPO

MODELS = Path(vocabulary.__file__).parent / "localapi" / "models"
# The shipped label files, read without loading a model.
COCO_LABELS = {
    RENAMED_LABELS.get((COCO, label), label)
    for label in (
        line.split(maxsplit=1)[1] for line in (MODELS / "coco_labels.txt").read_text().splitlines()
    )
}
OIDV4_LABELS = {
    line.strip().lower()
    for line in (MODELS / "object_detection_oidv4_labelmap.txt").read_text().splitlines()[1:]
}
DEFAULT_CLASSES = ("person", "car", "bicycle", "dog", "cat")


def answered_by(model: str) -> set[str]:
    return {name for name, answering in ANSWERED_BY.items() if answering == model}


def test_coco_answers_its_80_classes_and_oidv4_only_what_coco_lacks() -> None:
    assert len(COCO_LABELS) == 80
    assert answered_by(COCO) == COCO_LABELS
    assert answered_by(OIDV4) == {
        "camera",
        "box",
        "footwear",
        "boot",
        "high heels",
        "desk",
        "computer monitor",
        "stationary bicycle",
    }
    assert answered_by(OIDV4) <= OIDV4_LABELS
    assert not answered_by(OIDV4) & COCO_LABELS
    assert answered_by(BLAZEFACE) == {"face"}
    assert set(SCORE_THRESHOLDS) == {COCO, OIDV4, BLAZEFACE}
    assert all(0 < threshold < 1 for threshold in SCORE_THRESHOLDS.values())


def test_class_names_are_the_groups_in_order_each_once() -> None:
    grouped = [name for _, names in CLASS_GROUPS for name in names]
    assert list(CLASS_NAMES) == grouped
    assert len(set(CLASS_NAMES)) == len(CLASS_NAMES) == 89
    assert set(CLASS_NAMES) == set(ANSWERED_BY)
    titles = [title for title, _ in CLASS_GROUPS]
    assert len(set(titles)) == len(titles)
    assert all(title and names for title, names in CLASS_GROUPS)


def test_every_mapping_names_only_known_classes() -> None:
    for name, labels in SYNONYMS.items():
        assert labels, name
        assert labels <= set(CLASS_NAMES), name


def test_every_class_can_be_asked_for_by_its_own_name() -> None:
    for name in CLASS_NAMES:
        found = labels_for(name)
        assert found is not None and name in found, name


def test_every_oidv4_label_still_means_something() -> None:
    # The words the 23-class detector answered to keep working, now answered by COCO when it knows
    # the class: "coffee cup" and "mug" are cups, "cattle" is cow, "vehicle" is every vehicle.
    for label in OIDV4_LABELS:
        assert labels_for(label) is not None, label
    assert labels_for("coffee cup") == labels_for("mug") == {"cup"}
    assert labels_for("cattle") == {"cow"}
    assert labels_for("table") == {"dining table", "desk"}


def test_table_keys_are_normalised() -> None:
    for name in SYNONYMS:
        assert name == name.strip().lower() and "  " not in name and "_" not in name


@pytest.mark.parametrize(
    ("asked", "expected"),
    [
        ("person", {"person", "face"}),
        ("people", {"person", "face"}),
        ("women", {"person", "face"}),
        ("face", {"face"}),
        ("pet", {"cat", "dog"}),
        ("kitten", {"cat"}),
        ("puppy", {"dog"}),
        ("horse", {"horse"}),
        ("pigeon", {"bird"}),
        ("owl", {"bird"}),
        ("motorbike", {"motorcycle"}),
        ("plane", {"airplane"}),
        ("truck", {"truck"}),
        ("lorry", {"truck"}),
        ("bus", {"bus"}),
        ("phone", {"cell phone"}),
        ("smartphone", {"cell phone"}),
        ("sofa", {"couch"}),
        ("tv", {"tv"}),
        ("monitor", {"computer monitor"}),
        ("computer", {"laptop", "computer monitor"}),
        ("shoe", {"footwear", "boot", "high heels"}),
        ("cup", {"cup"}),
        ("bike", {"bicycle"}),
        ("computer mouse", {"computer mouse"}),
        ("vehicle", {"bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat"}),
    ],
)
def test_common_words(asked: str, expected: set[str]) -> None:
    assert labels_for(asked) == expected


@pytest.mark.parametrize(
    ("asked", "same_as"),
    [
        ("Person", "person"),
        ("  CAT ", "cat"),
        ("Traffic_Light", "traffic light"),
        ("cell-phone", "cell phone"),
        ("hot   dog", "hot dog"),
        ("cats", "cat"),
        ("Dogs", "dog"),
        ("boxes", "box"),
        ("buses", "bus"),
        ("puppies", "puppy"),
        ("wine glasses", "wine glass"),
        ("traffic lights", "traffic light"),
        ("coffee cups", "coffee cup"),
        ("knives", "knife"),
        ("skis", "ski"),
        ("high heels", "high heels"),
        ("vehicles", "vehicle"),
    ],
)
def test_case_spacing_and_plurals(asked: str, same_as: str) -> None:
    assert labels_for(asked) == SYNONYMS[same_as]


@pytest.mark.parametrize(
    "asked", ["mouse", "mice", "unicorn", "glasses", "tripod", "", "   ", "s", "xyz"]
)
def test_what_the_detector_cannot_see_is_unsupported(asked: str) -> None:
    assert labels_for(asked) is None


def test_the_default_classes_need_coco_and_blazeface_only() -> None:
    needed = labels_needed(DEFAULT_CLASSES)
    assert needed == {"person", "face", "car", "bicycle", "dog", "cat"}
    assert {ANSWERED_BY[name] for name in needed} == {COCO, BLAZEFACE}
    assert {ANSWERED_BY[name] for name in labels_needed(["Cameras", "shoe"])} == {OIDV4}


def test_labels_needed_ignores_unknown_words() -> None:
    assert labels_needed(["unicorn", "Mugs", "mouse"]) == {"cup"}
    assert labels_needed(["unicorn"]) == frozenset()
    assert labels_needed(CLASS_NAMES) == set(CLASS_NAMES)


def test_tables_are_read_only() -> None:
    with pytest.raises(TypeError):
        SYNONYMS["unicorn"] = frozenset({"horse"})  # type: ignore[index]
    with pytest.raises(TypeError):
        ANSWERED_BY["camera"] = COCO  # type: ignore[index]


def test_the_readme_lists_the_groups_as_the_table_has_them() -> None:
    readme = (REPO / "README.md").read_text()
    section = readme.split("### Classes\n", 1)[1].split("\n## ", 1)[0]
    # Each group is one bullet, "- **Title**: a, b, c", wrapped over indented lines.
    bullets = re.findall(r"^- \*\*(.+?)\*\*: (.+(?:\n  .+)*)", section, re.MULTILINE)
    listed = [(title, tuple(" ".join(names.split()).split(", "))) for title, names in bullets]
    assert listed == list(CLASS_GROUPS)
