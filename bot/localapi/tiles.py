"""Looking closer (DETECT_DETAIL=thorough): the overlapping tiles a large image is cut into, and the one
detection per object merged from what the whole view and the tiles found; and one detection per
object among the labels that count for one requested class (``one_per_object``)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

from PIL import Image

# Looking closer (THOROUGH): each side of the image is cut into about one tile per _TILE_PX
# (rounded; a side under 1.5 x _TILE_PX gets one, so a tile is never smaller than the model's
# input), at most _MAX_TILES in all, neighbours overlapping by _OVERLAP of a tile.
_TILE_PX = 400
_MAX_TILES = 6
_OVERLAP = 0.3
# A tile's box within this fraction of the tile from an edge the tile shares with a neighbour is
# a cut-off part of something larger, and is dropped (without it, at 700 px the camera photo had
# a second person and the coffee photo a second dining table).
_EDGE = 0.02
# Two boxes of a class from different views are one object when the smaller lies mostly inside
# the larger and is at least half its area; a box under half the size inside another is an
# animal standing behind the first, or a part of it (``merge`` tells which).
_SAME_OBJECT_COVER = 0.5
_SAME_OBJECT_AREA = 0.5
# Across classes, as the model's own post-processing suppresses within a view (IoU 0.6).
_ANY_CLASS_IOU = 0.6

Box = tuple[float, float, float, float]
Size = tuple[int, int]


@dataclass(frozen=True)
class Detection:
    label: str
    confidence: float
    box: Box  # x_min, y_min, x_max, y_max in pixels of the decoded image


def tiles(size: Size) -> list[Box]:
    """The tiles a THOROUGH look cuts an image of ``size`` into (one: the image is too small)."""
    width, height = size
    counts = [max(1, math.floor(side / _TILE_PX + 0.5)) for side in size]
    while counts[0] * counts[1] > _MAX_TILES:  # fewer cuts along the side cut finer
        counts[0 if width / counts[0] <= height / counts[1] else 1] -= 1
    columns, rows = counts
    tile_w = width / (columns - (columns - 1) * _OVERLAP)
    tile_h = height / (rows - (rows - 1) * _OVERLAP)
    return [
        (
            round(c * tile_w * (1 - _OVERLAP)),
            round(r * tile_h * (1 - _OVERLAP)),
            min(width, round(c * tile_w * (1 - _OVERLAP) + tile_w)),
            min(height, round(r * tile_h * (1 - _OVERLAP) + tile_h)),
        )
        for r in range(rows)
        for c in range(columns)
    ]


def _cut(box: Box, tile: Box, size: Size) -> bool:
    """Whether ``box``, found in ``tile``, reaches an edge the tile shares with another tile."""
    left, top, right, bottom = tile
    margin_x, margin_y = _EDGE * (right - left), _EDGE * (bottom - top)
    return (
        (left > 0 and box[0] <= left + margin_x)
        or (top > 0 and box[1] <= top + margin_y)
        or (right < size[0] and box[2] >= right - margin_x)
        or (bottom < size[1] and box[3] >= bottom - margin_y)
    )


def _area(box: Box) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def _intersection(a: Box, b: Box) -> float:
    return _area((max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])))


def _mostly_inside(inner: Box, outer: Box) -> bool:
    return _intersection(inner, outer) >= _SAME_OBJECT_COVER * _area(inner)


def _same_object(a: Box, b: Box) -> bool:
    smaller, larger = sorted((a, b), key=_area)
    return _area(smaller) >= _SAME_OBJECT_AREA * _area(larger) and _mostly_inside(smaller, larger)


def _iou(a: Box, b: Box) -> float:
    inter = _intersection(a, b)
    return inter / max(_area(a) + _area(b) - inter, 1e-12)


def _inside(box: Box, area: Box) -> bool:
    return area[0] <= box[0] and area[1] <= box[1] and box[2] <= area[2] and box[3] <= area[3]


def merge(
    whole: list[Detection], tiles: list[tuple[Box, list[Detection]]], overlap: tuple[float, float]
) -> list[Detection]:
    """One detection per object from the whole view and the tiles' (edge-cut boxes dropped).

    Within a view, the model has already suppressed its duplicates. Across views:
    - a tile's box mostly inside a box of its class from another view, less than half its area,
      is a part of that object when the tile does not hold that box whole (the handlebars of a
      bicycle the tile cuts); when it does, the tile saw both (a horse half-hidden behind another);
    - by score, a box is dropped when a kept one of its class from another view is the same object
      (``_same_object``), or one of any class overlaps it by IoU above _ANY_CLASS_IOU (a "car" in
      one view, a "truck" in the next);
    - a whole-view box smaller than the tiles' overlap lies entirely in a tile that saw it at a
      higher resolution: it is kept only where no tile found its class (the whole view's boxes
      of small things are loose, often around two people at once).
    """

    def small(box: Box) -> bool:
        return box[2] - box[0] < overlap[0] and box[3] - box[1] < overlap[1]

    # (detection, view): view 0 is the whole image, n the n-th tile.
    coarse = [d for d in whole if small(d.box)]
    everything = [(d, 0) for d in whole if not small(d.box)] + [
        (d, n) for n, (_, found) in enumerate(tiles, start=1) for d in found
    ]

    def part_of_another(detection: Detection, view: int) -> bool:
        tile = tiles[view - 1][0]
        return any(
            view != other_view
            and detection.label == other.label
            and _area(detection.box) < _SAME_OBJECT_AREA * _area(other.box)
            and _mostly_inside(detection.box, other.box)
            and not _inside(other.box, tile)
            for other, other_view in everything
        )

    candidates = sorted(
        ((d, n) for d, n in everything if n == 0 or not part_of_another(d, n)),
        key=lambda c: -c[0].confidence,
    )
    kept: list[tuple[Detection, int]] = []
    for detection, view in candidates:
        if not any(
            view != other_view
            and detection.label == other.label
            and _same_object(detection.box, other.box)
            for other, other_view in kept
        ):
            kept.append((detection, view))
    from_tiles = [d for d, view in kept if view > 0]
    found = [d for d, _ in kept] + [
        d
        for d in coarse
        if not any(t.label == d.label and _intersection(t.box, d.box) > 0 for t in from_tiles)
    ]
    merged: list[Detection] = []
    for detection in sorted(found, key=lambda d: -d.confidence):
        if all(_iou(other.box, detection.box) <= _ANY_CLASS_IOU for other in merged):
            merged.append(detection)
    return merged


def closer(
    image: Image.Image,
    whole: list[Detection],
    view: Callable[[Image.Image, Box], list[Detection]],
) -> list[Detection]:
    """What the whole view found (``whole``) merged with what ``view(crop, tile)`` finds in each
    tile of ``image`` (in the image's pixels), edge-cut boxes dropped; ``whole`` alone when the
    image is too small to tile."""
    cut = tiles(image.size)
    if len(cut) == 1:
        return whole
    seen = []
    for tile in cut:
        found = view(image.crop(tile), tile)
        seen.append((tile, [d for d in found if not _cut(d.box, tile, image.size)]))
    left, top, right, bottom = cut[0]
    return merge(whole, seen, (_OVERLAP * (right - left), _OVERLAP * (bottom - top)))


def one_per_object(detections: list[Detection]) -> list[Detection]:
    """One detection per object among ``detections``, the labels that count for one requested
    class ("person" counts a face), best first.

    Each model keeps one box per object of a label, but a class may count several labels:
    - a face mostly inside a person's box is that person's (the smallest such box), and the person
      takes the face's score when it is higher: BlazeFace is often surer of a portrait than the
      body model is;
    - boxes of two other labels overlapping by IoU above _ANY_CLASS_IOU are one object two models
      named (a desk and a dining table), kept by the better score.
    """
    people = [d for d in detections if d.label == "person"]
    scores = [d.confidence for d in people]
    others = []
    for detection in detections:
        holders = [
            n
            for n, person in enumerate(people)
            if detection.label == "face" and _mostly_inside(detection.box, person.box)
        ]
        if holders:
            holder = min(holders, key=lambda n: _area(people[n].box))
            scores[holder] = max(scores[holder], detection.confidence)
        elif detection.label != "person":
            others.append(detection)
    found = [replace(p, confidence=score) for p, score in zip(people, scores, strict=True)]
    kept: list[Detection] = []
    for detection in sorted(found + others, key=lambda d: -d.confidence):
        if all(
            other.label == detection.label or _iou(other.box, detection.box) <= _ANY_CLASS_IOU
            for other in kept
        ):
            kept.append(detection)
    return kept
