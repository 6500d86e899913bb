"""The scene photos in tests/images/scenes and their hand-marked objects (marks.json), and how a
detector's boxes are scored against those marks: what the detector tests and its benchmark share."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from PIL import Image

from bot.images.decode import decode_image
from bot.localapi.tiles import Box, Detection
from bot.vocabulary import ANSWERED_BY, COCO
from tests.support.photos import IMAGES

SCENES = IMAGES / "scenes"
# What the scenes are scored on: the COCO model's 80 classes, the model that looks closer; the
# marks name none of the other models' classes (the boots in person.jpg are "footwear").
SCORED_CLASSES = frozenset(name for name, model in ANSWERED_BY.items() if model == COCO)
# A box finds a marked object of its class from this IoU up: boxes around people 13 px wide are
# loose (a few pixels off is half their width), and a box around two people still counts once.
FOUND_IOU = 0.3


@dataclass(frozen=True)
class Mark:
    labels: frozenset[str]  # the object's class, and any other that counts for it
    box: Box


@dataclass(frozen=True)
class Score:
    found: int
    marked: int
    false: list[Detection]  # boxes that are no marked object (nor a speck marked to ignore)


def _marks(entries: list[dict[str, Any]], scale: float) -> list[Mark]:
    marks = []
    for entry in entries:
        x_min, y_min, x_max, y_max = (float(v) * scale for v in entry["box"])
        labels = frozenset([entry["label"], *entry.get("also", [])])
        marks.append(Mark(labels, (x_min, y_min, x_max, y_max)))
    return marks


def marked() -> dict[str, dict[str, Any]]:
    """marks.json's "photos": per file, its objects and the specks to ignore."""
    data = json.loads((SCENES / "marks.json").read_text(encoding="utf-8"))
    return dict(data["photos"])


def negatives() -> list[str]:
    """The scene photos with no person and no car in them."""
    data = json.loads((SCENES / "marks.json").read_text(encoding="utf-8"))
    return sorted(data["negatives"])


def scene(name: str, longer_side: int | None = None) -> Image.Image:
    """A scene photo, decoded, resized to ``longer_side`` when given (as Slack's thumbnails are)."""
    image = decode_image((SCENES / name).read_bytes()).image
    if longer_side is None:
        return image
    scale = longer_side / max(image.size)
    size = (round(image.width * scale), round(image.height * scale))
    return image.resize(size, Image.Resampling.LANCZOS)


def _iou(a: Box, b: Box) -> float:
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(0.0, width) * max(0.0, height)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def score(name: str, detections: list[Detection], width: int) -> Score:
    """How ``detections`` in scene ``name`` (decoded ``width`` px wide) match its marks: each mark
    is found by at most one box of its class, the most confident first."""
    entry = marked()[name]
    scale = width / Image.open(SCENES / name).width
    objects = _marks(entry["objects"], scale)
    specks = _marks(entry["ignore"], scale)
    unmatched = list(objects)
    false = []
    for detection in sorted(detections, key=lambda d: -d.confidence):
        candidates = [m for m in unmatched if detection.label in m.labels]
        best = max(candidates, key=lambda m: _iou(m.box, detection.box), default=None)
        if best is not None and _iou(best.box, detection.box) >= FOUND_IOU:
            unmatched.remove(best)
        elif not any(
            detection.label in s.labels and _iou(s.box, detection.box) > 0 for s in specks
        ):
            false.append(detection)
    return Score(len(objects) - len(unmatched), len(objects), false)
