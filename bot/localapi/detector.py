"""A CPU object detector: three TensorFlow Lite models.

- COCO: Google Coral's SSD-MobileNetV2 trained on COCO (80 classes), the main model.
- OIDv4: MediaPipe's SSD-MobileNetV2 trained on Open Images v4, for the classes COCO lacks
  (camera, box, footwear, boot, high heels, desk, computer monitor, stationary bicycle).
- BlazeFace full range (MediaPipe): "face".

``vocabulary.py`` says which model answers which class and with what score threshold; a
``detect`` call runs only the models that answer one of the classes it is asked for, and each
model is read and loaded on the first call that needs it. Detections are labelled with the
vocabulary's class names. All three run with ai-edge-litert, numpy and pillow; the model files
ship in ``models/`` beside this.

How closely to look (``detect``'s ``detail``): FAST runs each model once over the whole image,
which the SSDs see at 300x300, so a person 13 px wide in a 1352 px photo is 3 px wide to them.
THOROUGH also runs the COCO model over up to six overlapping tiles of a large image (``_tiles``)
and merges what the views found into one box per object (``_merge``); BlazeFace and the OIDv4
model still run once. BENCHMARKS.md has what each finds and costs.

Thread safety: a LiteRT ``Interpreter`` must not be used by two threads at once. A ``Detector``
keeps, per model, a small pool of interpreters (created on demand, at most ``max_sessions``);
each model run borrows one for its duration, and a call holds at most one at a time. A pool
rather than one interpreter per thread (``threading.local``) means a server that runs each
request on a fresh thread does not load the models again for every thread, and the number of
models in memory stays bounded. Each interpreter runs on one CPU thread: measured on 2 cores at
1024 px (with the OIDv4 and face models), two callers with one thread each gave ~63 images/s
against ~53 with two threads each, at the same CPU per image; two threads only shorten a lone
caller's wall time (~17 ms instead of ~28 ms).
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import queue
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from PIL import Image

from bot.imaging import to_rgb
from bot.localapi.vocabulary import (
    ANSWERED_BY,
    BLAZEFACE,
    CLASS_NAMES,
    COCO,
    OIDV4,
    RENAMED_LABELS,
    SCORE_THRESHOLDS,
)

MODELS_DIR = Path(__file__).resolve().parent / "models"
COCO_MODEL = "mobilenet_ssd_v2_coco_quant_postprocess.tflite"
COCO_LABELS = "coco_labels.txt"
OIDV4_MODEL = "object_detection_ssd_mobilenetv2_oidv4_fp16.tflite"
OIDV4_LABELS = "object_detection_oidv4_labelmap.txt"
FACE_MODEL = "face_detection_full_range_sparse.tflite"
FACE_LABEL = "face"

FAST = "fast"
THOROUGH = "thorough"
DETAILS = (FAST, THOROUGH)
DEFAULT_DETAIL = THOROUGH

_SSD_SIZE = 300
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
# animal standing behind the first, or a part of it (``_merge`` tells which).
_SAME_OBJECT_COVER = 0.5
_SAME_OBJECT_AREA = 0.5
# Across classes, as the model's own post-processing suppresses within a view (IoU 0.6).
_ANY_CLASS_IOU = 0.6
_OIDV4_IOU = 0.4
_FACE_SIZE = 192
_FACE_GRID = 48
_FACE_IOU = 0.3
# Logits are clipped before the sigmoid so that exp() cannot overflow.
_LOGIT_CLIP = 80.0

Box = tuple[float, float, float, float]
Size = tuple[int, int]


@dataclass(frozen=True)
class Detection:
    label: str
    confidence: float
    box: Box  # x_min, y_min, x_max, y_max in pixels of the decoded image


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(logits, -_LOGIT_CLIP, _LOGIT_CLIP)))


def _nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> list[int]:
    """Greedy non-maximum suppression; ``boxes`` rows are x_min, y_min, x_max, y_max."""
    x_min, y_min, x_max, y_max = boxes.T
    areas = np.clip(x_max - x_min, 0, None) * np.clip(y_max - y_min, 0, None)
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(int(best))
        width = np.minimum(x_max[best], x_max[rest]) - np.maximum(x_min[best], x_min[rest])
        height = np.minimum(y_max[best], y_max[rest]) - np.maximum(y_min[best], y_min[rest])
        inter = np.clip(width, 0, None) * np.clip(height, 0, None)
        iou = inter / np.maximum(areas[best] + areas[rest] - inter, 1e-12)
        order = rest[iou <= iou_threshold]
    return keep


@functools.cache
def _ssd_anchors() -> np.ndarray:
    """The 1917 anchors (cx, cy, w, h; normalised), made as by MediaPipe's SsdAnchorsCalculator."""
    num_layers, min_scale, max_scale = 6, 0.2, 0.95
    strides = (16, 32, 64, 128, 256, 512)
    ratios = (1.0, 2.0, 0.5, 3.0, 1.0 / 3.0)

    def scale(layer: int) -> float:
        return min_scale + (max_scale - min_scale) * layer / (num_layers - 1)

    anchors: list[tuple[float, float, float, float]] = []
    for layer, stride in enumerate(strides):
        if layer == 0:  # "reduce boxes in lowest layer"
            shapes = [(1.0, 0.1), (2.0, scale(0)), (0.5, scale(0))]
        else:
            following = 1.0 if layer == num_layers - 1 else scale(layer + 1)
            shapes = [(ratio, scale(layer)) for ratio in ratios]
            shapes.append((1.0, math.sqrt(scale(layer) * following)))
        sizes = [(s * math.sqrt(r), s / math.sqrt(r)) for r, s in shapes]
        cells = math.ceil(_SSD_SIZE / stride)
        for y in range(cells):
            for x in range(cells):
                anchors.extend(((x + 0.5) / cells, (y + 0.5) / cells, w, h) for w, h in sizes)
    return np.array(anchors, dtype=np.float32)


def _face_anchor_centres() -> np.ndarray:
    """Centres (cx, cy) of BlazeFace full range's 48x48 grid of anchors, row by row."""
    steps = (np.arange(_FACE_GRID, dtype=np.float32) + 0.5) / _FACE_GRID
    cy, cx = np.meshgrid(steps, steps, indexing="ij")
    return np.stack([cx.ravel(), cy.ravel()], axis=1)


def _as_input(image: Image.Image) -> np.ndarray:
    """A 1xHxWx3 float32 tensor scaled to [-1, 1], as the OIDv4 SSD and BlazeFace expect."""
    return (np.asarray(image, dtype=np.float32) * (1.0 / 127.5) - 1.0)[np.newaxis]


def _to_detections(
    label: str,
    boxes: np.ndarray,
    scores: np.ndarray,
    iou_threshold: float,
    transform: Box,
    size: tuple[int, int],
) -> list[Detection]:
    """Suppress overlaps; map normalised boxes to pixels (x * sx + ox, y * sy + oy) in ``size``."""
    sx, sy, ox, oy = transform
    pixels = boxes * np.array([sx, sy, sx, sy]) + np.array([ox, oy, ox, oy])
    pixels = np.clip(pixels, 0.0, np.array([size[0], size[1], size[0], size[1]]))
    return [
        Detection(label, float(scores[i]), tuple(float(v) for v in pixels[i]))  # type: ignore[arg-type]
        for i in _nms(boxes, scores, iou_threshold)
    ]


def _tiles(size: Size) -> list[Box]:
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


def _merge(
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


def _stretched(image: Image.Image) -> Image.Image:
    """The image resized (not letterboxed) to the SSDs' square input."""
    return image.resize((_SSD_SIZE, _SSD_SIZE), Image.Resampling.BILINEAR)


def _class_name(model: str, label: str) -> str:
    return RENAMED_LABELS.get((model, label), label)


def _answered_by(model: str) -> frozenset[str]:
    return frozenset(name for name, answering in ANSWERED_BY.items() if answering == model)


# Picks a model's output tensors (their indices, in the order its decoder wants) from the
# interpreter's output details; raises RuntimeError when the model is not the expected one.
OutputPicker = Callable[[Sequence[dict[str, Any]]], tuple[int, ...]]


class _Pool:
    """The interpreters of one model file: the file is read on first use, an interpreter is made
    whenever every existing one is busy, at most ``size``, and each serves one thread at a time."""

    def __init__(self, path: Path, size: int, num_threads: int, outputs: OutputPicker) -> None:
        self._path = path
        self._num_threads = num_threads
        self._pick_outputs = outputs
        self._content: bytes | None = None
        self._input = 0
        self._outputs: tuple[int, ...] = ()
        self._load_lock = threading.Lock()
        self._idle: queue.LifoQueue[Any] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(size)

    @property
    def loaded(self) -> bool:
        return self._content is not None

    def run(self, tensor: np.ndarray) -> list[np.ndarray]:
        """The model's outputs for the batch of one ``tensor``, batch dimension dropped."""
        with self._interpreter() as interpreter:
            interpreter.set_tensor(self._input, tensor)
            interpreter.invoke()
            return [interpreter.get_tensor(index)[0] for index in self._outputs]

    @contextlib.contextmanager
    def _interpreter(self) -> Iterator[Any]:
        with self._slots:
            try:
                interpreter = self._idle.get_nowait()
            except queue.Empty:
                interpreter = self._new()
            try:
                yield interpreter
            finally:
                self._idle.put(interpreter)

    def _new(self) -> Any:
        from ai_edge_litert.interpreter import Interpreter  # heavy: imported only to load a model

        with self._load_lock:
            content = self._content or self._path.read_bytes()
            interpreter = Interpreter(model_content=content, num_threads=self._num_threads)
            interpreter.allocate_tensors()
            if self._content is None:
                self._input = interpreter.get_input_details()[0]["index"]
                self._outputs = self._pick_outputs(interpreter.get_output_details())
                self._content = content
        return interpreter


class _Model(Protocol):
    pool: _Pool

    def detect(self, small: Image.Image, size: Size, wanted: frozenset[str]) -> list[Detection]:
        """Detections of the ``wanted`` classes this model answers, in pixels of an image of
        ``size``; ``small`` is that image, possibly reduced."""
        ...


class _Coco:
    """Coral's COCO SSD: uint8 RGB input, boxes already decoded and suppressed in the graph."""

    def __init__(self, models_dir: Path, size: int, num_threads: int) -> None:
        self._classes: dict[int, str] = {}
        for line in (models_dir / COCO_LABELS).read_text(encoding="utf-8").splitlines():
            number, label = line.split(maxsplit=1)
            self._classes[int(number)] = _class_name(COCO, label.strip().lower())
        if set(self._classes.values()) != _answered_by(COCO):
            raise RuntimeError(f"{COCO_LABELS} does not match the class table")
        self._threshold = SCORE_THRESHOLDS[COCO]
        self.pool = _Pool(models_dir / COCO_MODEL, size, num_threads, self._outputs)

    @staticmethod
    def _outputs(details: Sequence[dict[str, Any]]) -> tuple[int, ...]:
        by_name = {d["name"]: d["index"] for d in details}
        names = [f"TFLite_Detection_PostProcess{suffix}" for suffix in ("", ":1", ":2", ":3")]
        if not set(names) <= by_name.keys():
            raise RuntimeError(f"{COCO_MODEL} lacks its post-processing outputs")
        return tuple(by_name[name] for name in names)

    def detect(self, small: Image.Image, size: Size, wanted: frozenset[str]) -> list[Detection]:
        return self._view(small, (0, 0, *size), wanted)

    def detect_closer(
        self, rgb: Image.Image, small: Image.Image, wanted: frozenset[str]
    ) -> list[Detection]:
        """``detect`` over the whole of ``rgb`` (``small`` is it, possibly reduced), plus, when
        ``rgb`` is large enough, over overlapping tiles of it, merged (``_merge``)."""
        whole = self.detect(small, rgb.size, wanted)
        tiles = _tiles(rgb.size)
        if len(tiles) == 1:
            return whole
        seen: list[tuple[Box, list[Detection]]] = []
        for tile in tiles:
            crop = rgb.crop(tile)
            factor = max(1, min(crop.size) // _SSD_SIZE)
            view = self._view(crop.reduce(factor) if factor > 1 else crop, tile, wanted)
            seen.append((tile, [d for d in view if not _cut(d.box, tile, rgb.size)]))
        left, top, right, bottom = tiles[0]
        overlap = (_OVERLAP * (right - left), _OVERLAP * (bottom - top))
        return _merge(whole, seen, overlap)

    def _view(self, image: Image.Image, box: Box, wanted: frozenset[str]) -> list[Detection]:
        """Detections in ``image``, which shows ``box`` of the decoded image; boxes in its pixels."""
        pixels = np.asarray(_stretched(image), dtype=np.uint8)[np.newaxis]
        boxes, class_ids, scores, count = self.pool.run(pixels)
        left, top, right, bottom = box
        width, height = right - left, bottom - top
        found = []
        detected = int(count)
        for found_box, class_id, score in zip(
            boxes[:detected], class_ids[:detected], scores[:detected], strict=True
        ):
            label = self._classes.get(int(class_id))
            if score >= self._threshold and label in wanted:
                # Normalised (y_min, x_min, y_max, x_max).
                y_min, x_min, y_max, x_max = np.clip(found_box, 0.0, 1.0).tolist()
                pixels_box = (
                    left + x_min * width,
                    top + y_min * height,
                    left + x_max * width,
                    top + y_max * height,
                )
                found.append(Detection(label, float(score), pixels_box))
        return found


class _OpenImages:
    """MediaPipe's OIDv4 SSD: float input in [-1, 1], raw anchor encodings and class logits."""

    def __init__(self, models_dir: Path, size: int, num_threads: int) -> None:
        names = (models_dir / OIDV4_LABELS).read_text(encoding="utf-8").splitlines()
        labels = [_class_name(OIDV4, name.strip().lower()) for name in names]
        # Columns of the class scores, by label; column 0 ("???") is the background. Labels that
        # another model answers (person, car, cup, ...) are not used.
        self._columns = {
            label: column for column, label in enumerate(labels) if ANSWERED_BY.get(label) == OIDV4
        }
        self._width = len(labels)
        if set(self._columns) != _answered_by(OIDV4):
            raise RuntimeError(f"{OIDV4_LABELS} does not match the class table")
        self._threshold = SCORE_THRESHOLDS[OIDV4]
        self.pool = _Pool(models_dir / OIDV4_MODEL, size, num_threads, self._outputs)

    def _outputs(self, details: Sequence[dict[str, Any]]) -> tuple[int, ...]:
        by_name = {d["name"]: d for d in details}
        scores = by_name.get("raw_outputs/class_predictions")
        if scores is None or int(scores["shape"][-1]) != self._width:
            raise RuntimeError(f"{OIDV4_LABELS} does not match {OIDV4_MODEL}")
        return by_name["raw_outputs/box_encodings"]["index"], scores["index"]

    def detect(self, small: Image.Image, size: Size, wanted: frozenset[str]) -> list[Detection]:
        encodings, logits = self.pool.run(_as_input(_stretched(small)))
        a = _ssd_anchors()
        # Raw encodings are (y, x, h, w) relative to the anchor, scaled by 10, 10, 5, 5.
        cy = encodings[:, 0] / 10.0 * a[:, 3] + a[:, 1]
        cx = encodings[:, 1] / 10.0 * a[:, 2] + a[:, 0]
        h = np.exp(encodings[:, 2] / 5.0) * a[:, 3]
        w = np.exp(encodings[:, 3] / 5.0) * a[:, 2]
        boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
        found: list[Detection] = []
        for label, column in self._columns.items():
            if label not in wanted:
                continue
            scores = _sigmoid(logits[:, column])
            candidates = np.nonzero(scores >= self._threshold)[0]
            found += _to_detections(
                label,
                boxes[candidates],
                scores[candidates],
                _OIDV4_IOU,
                (size[0], size[1], 0.0, 0.0),
                size,
            )
        return found


class _Faces:
    """BlazeFace full range: the whole image letterboxed into a 192x192 float input."""

    def __init__(self, models_dir: Path, size: int, num_threads: int) -> None:
        self._threshold = SCORE_THRESHOLDS[BLAZEFACE]
        self._anchors = _face_anchor_centres()
        self.pool = _Pool(models_dir / FACE_MODEL, size, num_threads, self._outputs)

    @staticmethod
    def _outputs(details: Sequence[dict[str, Any]]) -> tuple[int, ...]:
        # Told apart by their last dimension: 16 regressors per anchor, 1 score.
        by_width = {int(d["shape"][-1]): d["index"] for d in details}
        if set(by_width) != {16, 1}:
            raise RuntimeError(f"{FACE_MODEL} does not have BlazeFace's outputs")
        return by_width[16], by_width[1]

    def detect(self, small: Image.Image, size: Size, wanted: frozenset[str]) -> list[Detection]:
        scale = _FACE_SIZE / max(size)
        fitted = (max(1, round(size[0] * scale)), max(1, round(size[1] * scale)))
        left, top = (_FACE_SIZE - fitted[0]) // 2, (_FACE_SIZE - fitted[1]) // 2
        letterbox = Image.new("RGB", (_FACE_SIZE, _FACE_SIZE))
        letterbox.paste(small.resize(fitted, Image.Resampling.BILINEAR), (left, top))
        regressors, logits = self.pool.run(_as_input(letterbox))
        scores = _sigmoid(logits[:, 0])
        candidates = np.nonzero(scores >= self._threshold)[0]
        # Regressors are (x, y, w, h, keypoints...) in input pixels, centre relative to the anchor.
        r = regressors[candidates, :4] / _FACE_SIZE
        cx = r[:, 0] + self._anchors[candidates, 0]
        cy = r[:, 1] + self._anchors[candidates, 1]
        w, h = r[:, 2], r[:, 3]
        boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
        side = _FACE_SIZE / scale
        transform = (side, side, -left / scale, -top / scale)
        return _to_detections(FACE_LABEL, boxes, scores[candidates], _FACE_IOU, transform, size)


class Detector:
    """Finds the classes of the class table (``vocabulary.CLASS_NAMES``) in images, running only
    the models a call needs; ``detect`` is thread-safe."""

    def __init__(
        self,
        models_dir: Path = MODELS_DIR,
        *,
        num_threads: int = 1,
        max_sessions: int | None = None,
    ) -> None:
        # Reads the label files and checks them against the class table; loads no model.
        size = max_sessions or os.cpu_count() or 1
        self._coco = _Coco(models_dir, size, num_threads)
        self._models: dict[str, _Model] = {
            COCO: self._coco,
            OIDV4: _OpenImages(models_dir, size, num_threads),
            BLAZEFACE: _Faces(models_dir, size, num_threads),
        }

    @property
    def loaded(self) -> frozenset[str]:
        """The models (``vocabulary.COCO``, ``OIDV4``, ``BLAZEFACE``) loaded so far."""
        return frozenset(key for key, model in self._models.items() if model.pool.loaded)

    def detect(
        self,
        image: Image.Image,
        classes: Collection[str] = CLASS_NAMES,
        *,
        detail: str = DEFAULT_DETAIL,
    ) -> list[Detection]:
        """Detections of ``classes`` (names from ``vocabulary.CLASS_NAMES``; all by default) in
        ``image``, highest confidence first, one per object; boxes in the image's pixels.

        ``detail`` (one of ``DETAILS``): FAST runs each model once over the whole image;
        THOROUGH also runs the COCO model over overlapping tiles of an image well above its
        300 px input (``_tiles``), which finds small things: people on a beach, kites.

        Runs only the models that answer one of ``classes``. Raises ValueError for a name that
        is not in the class table or an unknown ``detail``, and RuntimeError when a model file
        turns out to be broken.
        """
        if detail not in DETAILS:
            raise ValueError(f"detail must be one of {', '.join(DETAILS)}, not {detail!r}")
        wanted = frozenset(classes)
        if unknown := wanted - ANSWERED_BY.keys():
            raise ValueError(f"not classes of the embedded detector: {', '.join(sorted(unknown))}")
        needed = {ANSWERED_BY[name] for name in wanted}
        if not needed:
            return []
        rgb = to_rgb(image)
        # A cheap box-filter reduction first, so that the smoothing resizes of the models' inputs
        # work on a few hundred pixels rather than on the whole photo (a third of the time at
        # 1024 px).
        factor = max(1, min(rgb.size) // _SSD_SIZE)
        small = rgb.reduce(factor) if factor > 1 else rgb
        found = []
        for key, model in self._models.items():
            if key not in needed:
                continue
            if model is self._coco and detail == THOROUGH:
                found += self._coco.detect_closer(rgb, small, wanted)
            else:
                found += model.detect(small, rgb.size, wanted)
        return sorted(found, key=lambda d: -d.confidence)


_detector: Detector | None = None
_detector_lock = threading.Lock()


def get_detector() -> Detector:
    """The process's detector; each model loads on the first image that needs it."""
    global _detector
    if _detector is None:
        with _detector_lock:
            if _detector is None:
                _detector = Detector()
    return _detector
