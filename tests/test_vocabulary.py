"""The words users type, mapped to the labels the embedded detector emits."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.localapi import vocabulary
from bot.localapi.vocabulary import SYNONYMS, labels_for

LABEL_MAP = Path(vocabulary.__file__).parent / "models" / "object_detection_oidv4_labelmap.txt"
# What Detector.labels is, read from the shipped label map without loading the model.
DETECTOR_LABELS = {line.strip().lower() for line in LABEL_MAP.read_text().splitlines()[1:]} | {
    "face"
}


def test_every_mapping_names_only_real_detector_labels() -> None:
    for name, labels in SYNONYMS.items():
        assert labels, name
        assert labels <= DETECTOR_LABELS, name


def test_every_detector_label_can_be_asked_for_by_its_own_name() -> None:
    for label in DETECTOR_LABELS:
        found = labels_for(label)
        assert found is not None and label in found, label


def test_table_keys_are_normalised() -> None:
    for name in SYNONYMS:
        assert name == name.strip().lower() and "  " not in name and "_" not in name


@pytest.mark.parametrize(
    ("asked", "expected"),
    [
        ("person", {"person", "face"}),
        ("people", {"person", "face"}),
        ("human", {"person", "face"}),
        ("man", {"person", "face"}),
        ("women", {"person", "face"}),
        ("pet", {"cat", "dog"}),
        ("vehicle", {"car", "vehicle", "bicycle"}),
        ("mug", {"coffee cup", "mug"}),
        ("cup", {"coffee cup", "mug"}),
        ("coffee cup", {"coffee cup", "mug"}),
        ("bike", {"bicycle"}),
        ("face", {"face"}),
        ("car", {"car"}),
    ],
)
def test_common_words(asked: str, expected: set[str]) -> None:
    assert labels_for(asked) == expected


@pytest.mark.parametrize(
    ("asked", "same_as"),
    [
        ("Person", "person"),
        ("  CAT ", "cat"),
        ("Coffee_Cup", "coffee cup"),
        ("coffee-cup", "coffee cup"),
        ("coffee   cup", "coffee cup"),
        ("cats", "cat"),
        ("Dogs", "dog"),
        ("boxes", "box"),
        ("puppies", "puppy"),
        ("shoes", "shoe"),
        ("coffee cups", "coffee cup"),
        ("high heels", "high heels"),
        ("vehicles", "vehicle"),
        ("pets", "pet"),
    ],
)
def test_case_spacing_and_plurals(asked: str, same_as: str) -> None:
    assert labels_for(asked) == SYNONYMS[same_as]


@pytest.mark.parametrize("asked", ["truck", "bus", "horse", "bird", "mouse", "", "   ", "s", "xyz"])
def test_what_the_detector_cannot_see_is_unsupported(asked: str) -> None:
    assert labels_for(asked) is None


def test_table_is_read_only() -> None:
    with pytest.raises(TypeError):
        SYNONYMS["truck"] = frozenset({"car"})  # type: ignore[index]
