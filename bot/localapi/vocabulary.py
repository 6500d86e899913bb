"""The embedded detector's class table: every class it knows, which model answers it, and the words
users may type for it.

Public API (pure; nothing here loads a model):

- ``CLASS_NAMES``: every class name the embedded detector knows, grouped as in ``CLASS_GROUPS``
  (what "all classes" means).
- ``CLASS_GROUPS``: ``(group title, class names)`` pairs, for help text.
- ``labels_for(word)``: the class names that count as what a user typed, or ``None`` when the
  detector cannot see it (reported as "not supported", never as "not found").
- ``ANSWERED_BY`` and ``SCORE_THRESHOLDS``: which model answers each class, and each model's
  threshold; ``detector.py`` runs a model only when a request needs one of its classes.

Three models, each with its own threshold (a detection counts from that score up):

| model     | answers                                                            | threshold |
|-----------|--------------------------------------------------------------------|-----------|
| COCO      | its 80 classes, by their COCO names ("mouse" is "computer mouse")  | 0.55      |
| OIDv4     | the Open Images classes COCO lacks: camera, box, footwear, boot,   | 0.35      |
|           | high heels, desk, computer monitor, stationary bicycle             |           |
| BlazeFace | face                                                               | 0.6       |

- COCO (Coral's SSD-MobileNetV2, quantised): its scores come in steps (..., 0.42, 0.50, 0.58,
  0.66, ...), so 0.55 keeps 0.58 and up. The models' notes saw true objects at 0.58-0.99 and false
  ones up to 0.50 (a "sports ball" on a lawn, a "mouse" on a helmet). On 120 views of the test
  photos (each whole, flipped, and cropped to nine half-size and nine 70 % windows) the people,
  cat, cup, spoon, table and tie scored up to 0.95, and two false ones reached 0.58 (a toothbrush
  and a backpack, 0.66, on crops of the astronaut); a close crop of the camera on its tripod gave
  a false traffic light at 0.58.
- OIDv4 (MediaPipe's SSD-MobileNetV2): true detections scored 0.35-0.85; 0.5 lost some people.
  Of its own classes only a camera is in the test photos: 0.36-0.60 on crops around it.
- BlazeFace full range: the three test portraits' faces scored 0.87-0.91, nothing else reached 0.6.

Where two models know a class, COCO answers it. Measured on the six test photos (tests/images),
each also flipped and cropped to its left and right 70 % (24 views), best score per class:

| class        | in                        | COCO      | OIDv4 (its label)                       |
|--------------|---------------------------|-----------|-----------------------------------------|
| person       | the 3 portraits, 12 views | 0.50-0.84 | 0.28-0.64                               |
| cat          | chelsea, 4 views          | 0.88      | 0.84-0.87                               |
| cup          | coffee, 4 views           | 0.84-0.95 | 0.53-0.69 (coffee cup), 0.23-0.29 (mug) |
| dining table | coffee, 4 views           | 0.50-0.66 | 0.15-0.21 (table)                       |

COCO scored higher on every true object; its worst false score (computer mouse 0.34 on the
astronaut) stayed 0.21 below its threshold, OIDv4's (coffee cup 0.31, same photo) came within
0.04 of its own. No view holds a car, bicycle, dog, laptop, chair, bottle, book or cow; there
neither model's best false score reached its threshold (COCO: bottle 0.27; OIDv4: bottle 0.30,
car 0.21). So COCO answers those too: one object model then serves the default classes
(person, car, bicycle, dog, cat), and the OIDv4 model is loaded and run only for the eight
classes COCO lacks. The OIDv4 label "vehicle" (a catch-all that scored a bus 0.27) is not used:
COCO names bus, truck, motorcycle and the rest.

"person" also counts a face: BlazeFace finds close-up portraits that body detectors can miss.

Words (``SYNONYMS``): class names are matched case-insensitively, with ``_``/``-`` read as spaces
and simple English plurals accepted ("Cats", "hot_dogs", "boxes", "puppies"). Besides every class
name, common words count: kinds of people (and a face) for person, kitten and puppy, bird kinds
(pigeon, duck, owl, ...), cattle for cow, motorbike, plane, lorry, ship, phone, sofa, fridge,
mug/coffee cup for cup, and a few collective words ("pet", "animal", "vehicle", "furniture",
"food", "screen", "computer", "shoe", "bag", "table" = dining table or desk).

"mouse" alone is left out on purpose: COCO's "mouse" is a computer mouse, and "is there a
mouse?" about an animal must not come back as one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType

COCO = "coco"
OIDV4 = "oidv4"
BLAZEFACE = "blazeface"

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


def _singulars(name: str) -> list[str]:
    """Possible singulars of a simple English plural: puppies -> puppy, boxes -> box, cats -> cat."""
    if name.endswith("ies"):
        return [name[:-3] + "y"]
    if name.endswith("es"):
        return [name[:-1], name[:-2]]
    if name.endswith("s"):
        return [name[:-1]]
    return []
