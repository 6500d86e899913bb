"""The class table: every class the embedded detector knows, which model answers it, the words users
may type for it, and how a list of them is read. Pure data and functions: nothing here loads a model.

- ``CLASS_NAMES`` / ``CLASS_GROUPS``: every class (what ``all`` means), grouped for help text.
- ``labels_for(word)``: the class names that count as what a user typed, or ``None`` when the detector
  cannot see it (reported as "not supported", never as "not found").
- ``ANSWERED_BY`` and ``SCORE_THRESHOLDS``: which model answers each class, and each model's threshold.
- ``parse_classes(text)``: the one reading of a list of classes, wherever a user types one.

Why each model answers what it does, and the measurements behind the thresholds and the synonyms:
docs/decisions.md, "The class table".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType

COCO = "coco"
OIDV4 = "oidv4"
BLAZEFACE = "blazeface"

# How closely the embedded detector looks (DETECT_DETAIL): once over the whole image, or also over
# tiles of a large one (docs/decisions.md, "How closely the detector looks").
FAST = "fast"
THOROUGH = "thorough"
DETAILS = (FAST, THOROUGH)
DEFAULT_DETAIL = THOROUGH

SCORE_THRESHOLDS: Mapping[str, float] = MappingProxyType({COCO: 0.55, OIDV4: 0.35, BLAZEFACE: 0.6})

_FOOD = (
    "banana",
    "apple",
    "sandwich",
    "orange",
    "broccoli",
    "carrot",
    "hot dog",
    "pizza",
    "donut",
    "cake",
)
CLASS_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "People and animals",
        (
            "person",
            "face",
            "bird",
            "cat",
            "dog",
            "horse",
            "sheep",
            "cow",
            "elephant",
            "bear",
            "zebra",
            "giraffe",
        ),
    ),
    (
        "Vehicles and street",
        (
            "bicycle",
            "car",
            "motorcycle",
            "airplane",
            "bus",
            "train",
            "truck",
            "boat",
            "traffic light",
            "fire hydrant",
            "stop sign",
            "parking meter",
            "bench",
        ),
    ),
    (
        "Clothing and bags",
        ("backpack", "umbrella", "handbag", "tie", "suitcase", "footwear", "boot", "high heels"),
    ),
    (
        "Sports",
        (
            "frisbee",
            "skis",
            "snowboard",
            "sports ball",
            "kite",
            "baseball bat",
            "baseball glove",
            "skateboard",
            "surfboard",
            "tennis racket",
            "stationary bicycle",
        ),
    ),
    (
        "Food and tableware",
        (
            "bottle",
            "wine glass",
            "cup",
            "fork",
            "knife",
            "spoon",
            "bowl",
            *_FOOD,
        ),
    ),
    (
        "Furniture and household",
        (
            "chair",
            "couch",
            "potted plant",
            "bed",
            "dining table",
            "desk",
            "toilet",
            "book",
            "clock",
            "vase",
            "scissors",
            "teddy bear",
            "hair drier",
            "toothbrush",
            "box",
        ),
    ),
    (
        "Electronics and appliances",
        (
            "tv",
            "computer monitor",
            "laptop",
            "computer mouse",
            "remote",
            "keyboard",
            "cell phone",
            "camera",
            "microwave",
            "oven",
            "toaster",
            "sink",
            "refrigerator",
        ),
    ),
)

CLASS_NAMES: tuple[str, ...] = tuple(name for _, names in CLASS_GROUPS for name in names)

_OIDV4_CLASSES = frozenset(
    {
        "camera",
        "box",
        "footwear",
        "boot",
        "high heels",
        "desk",
        "computer monitor",
        "stationary bicycle",
    }
)
ANSWERED_BY: Mapping[str, str] = MappingProxyType(
    {
        name: BLAZEFACE if name == "face" else OIDV4 if name in _OIDV4_CLASSES else COCO
        for name in CLASS_NAMES
    }
)
# Model labels (lower case) that differ from the class name they answer for.
RENAMED_LABELS: Mapping[tuple[str, str], str] = MappingProxyType(
    {(COCO, "mouse"): "computer mouse"}
)

_PERSON = frozenset({"person", "face"})
_ANIMALS = frozenset(
    {"bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe"}
)
_VEHICLES = frozenset({"bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat"})


def _each(names: str, labels: Iterable[str]) -> dict[str, frozenset[str]]:
    return dict.fromkeys(names.split(","), frozenset(labels))


SYNONYMS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        **{name: frozenset({name}) for name in CLASS_NAMES},
        **_each(
            "person,people,human,man,men,woman,women,child,children,kid,boy,girl,baby,adult,"
            "pedestrian",
            _PERSON,
        ),
        **_each("kitten,kitty", {"cat"}),
        **_each("puppy,hound", {"dog"}),
        "pet": frozenset({"cat", "dog"}),
        "animal": _ANIMALS,
        **_each(
            "pigeon,sparrow,seagull,gull,duck,goose,swan,parrot,crow,eagle,owl,chicken,hen,"
            "rooster,penguin",
            {"bird"},
        ),
        **_each("pony,foal", {"horse"}),
        "lamb": frozenset({"sheep"}),
        **_each("cattle,bull,ox,oxen,calf", {"cow"}),
        **_each("bike,cycle", {"bicycle"}),
        "automobile": frozenset({"car"}),
        "motorbike": frozenset({"motorcycle"}),
        **_each("plane,aeroplane,aircraft,jet", {"airplane"}),
        "lorry": frozenset({"truck"}),
        **_each("ship,sailboat,yacht,canoe,kayak", {"boat"}),
        "vehicle": _VEHICLES,
        "exercise bike": frozenset({"stationary bicycle"}),
        "rucksack": frozenset({"backpack"}),
        "purse": frozenset({"handbag"}),
        "necktie": frozenset({"tie"}),
        "luggage": frozenset({"suitcase"}),
        "bag": frozenset({"backpack", "handbag", "suitcase"}),
        "shoe": frozenset({"footwear", "boot", "high heels"}),
        **_each("high heel,heels", {"high heels"}),
        **_each("ball,football,soccer ball,basketball", {"sports ball"}),
        "ski": frozenset({"skis"}),
        **_each("racket,racquet,tennis racquet", {"tennis racket"}),
        **_each("mug,coffee cup,coffee mug,coffee,teacup,tea cup", {"cup"}),
        "knives": frozenset({"knife"}),
        "doughnut": frozenset({"donut"}),
        "fruit": frozenset({"banana", "apple", "orange"}),
        "food": frozenset(_FOOD),
        "sofa": frozenset({"couch"}),
        **_each("plant,houseplant", {"potted plant"}),
        "table": frozenset({"dining table", "desk"}),
        "furniture": frozenset({"chair", "couch", "bed", "dining table", "desk", "bench"}),
        "television": frozenset({"tv"}),
        "monitor": frozenset({"computer monitor"}),
        **_each("screen,display", {"tv", "computer monitor"}),
        "computer": frozenset({"laptop", "computer monitor"}),
        **_each("phone,mobile phone,cellphone,smartphone", {"cell phone"}),
        "remote control": frozenset({"remote"}),
        "fridge": frozenset({"refrigerator"}),
        "hair dryer": frozenset({"hair drier"}),
        "teddy": frozenset({"teddy bear"}),
        **_each("carton,package,parcel", {"box"}),
    }
)


def labels_for(class_name: str) -> frozenset[str] | None:
    """The class names (from ``CLASS_NAMES``) whose detections count as ``class_name``, as a
    user typed it; ``None`` if the embedded detector cannot see it."""
    name = re.sub(r"[\s_-]+", " ", class_name).strip().lower()
    for candidate in (name, *_singulars(name)):
        if candidate in SYNONYMS:
            return SYNONYMS[candidate]
    return None


def labels_needed(class_names: Iterable[str]) -> frozenset[str]:
    """Every class name that counts for any of ``class_names`` (words as users type them);
    unknown words add nothing."""
    return frozenset().union(*(labels_for(name) or () for name in class_names))


def singular(name: str) -> str:
    """The word as the vocabulary knows it, for a plural it reads: "cats" is "cat", "puppies"
    "puppy"; any other `name` (a word it knows as it is, or does not know) unchanged."""
    if name in SYNONYMS:
        return name
    return next((one for one in _singulars(name) if one in SYNONYMS), name)


def _singulars(name: str) -> list[str]:
    """Possible singulars of a simple English plural: puppies -> puppy, boxes -> box, cats -> cat."""
    if name.endswith("ies"):
        return [name[:-3] + "y"]
    if name.endswith("es"):
        return [name[:-1], name[:-2]]
    if name.endswith("s"):
        return [name[:-1]]
    return []


# -- `all`, and lists of classes as users type them ---------------------------------------------

ALL = "all"
NEEDS_EMBEDDED = (
    "`all` means every class of the embedded detector; with a hosted API account "
    "(II_CLIENT_ID), name the classes to look for"
)


def normalise(name: str) -> str:
    """A class name as the bot keeps it: lower case, `_` and runs of spaces read as one space."""
    return " ".join(name.replace("_", " ").split()).lower()


def parse_classes(text: str, *, words: bool = False) -> tuple[str, ...]:
    """The classes in `text`, separated by commas (`words`: by commas when there are any, so
    `coffee cup, person` is two, else by spaces, as `/detect cat dog` is typed); normalised, each
    once. ValueError when there is none, or `all` comes with others."""
    parts = text.split(",") if "," in text or not words else text.split()
    classes = tuple(dict.fromkeys(name for part in parts if (name := normalise(part))))
    if not classes:
        raise ValueError("give at least one class, e.g. person,car, or all")
    if ALL in classes and len(classes) > 1:
        raise ValueError("`all` already means every class: give it alone")
    return classes


def everything(classes: Iterable[str]) -> bool:
    return tuple(classes) == (ALL,)


def for_api(classes: Iterable[str]) -> tuple[str, ...]:
    """The classes to send the API: the whole table for `all`."""
    return CLASS_NAMES if everything(classes) else tuple(classes)


def unknown(classes: Iterable[str]) -> list[str]:
    """The classes the embedded detector cannot see (`all` is known)."""
    return [name for name in classes if name != ALL and labels_for(name) is None]
