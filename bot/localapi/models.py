"""The three TensorFlow Lite models of the embedded detector, each read and loaded on first use, and a
pool of interpreters per model (see detector.py for which answers what, and thread safety)."""

from __future__ import annotations

import contextlib
import functools
import math
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from PIL import Image

from bot.localapi.tiles import Box, Detection, Size, closer
from bot.vocabulary import (
    ANSWERED_BY,
    BLAZEFACE,
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


SSD_SIZE = 300
_OIDV4_IOU = 0.4
_FACE_SIZE = 192
_FACE_GRID = 48
_FACE_IOU = 0.3
# Logits are clipped before the sigmoid so that exp() cannot overflow.
_LOGIT_CLIP = 80.0


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
        cells = math.ceil(SSD_SIZE / stride)
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


def _stretched(image: Image.Image) -> Image.Image:
    """The image resized (not letterboxed) to the SSDs' square input."""
    return image.resize((SSD_SIZE, SSD_SIZE), Image.Resampling.BILINEAR)


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


class Model(Protocol):
    pool: _Pool

    def detect(self, small: Image.Image, size: Size, wanted: frozenset[str]) -> list[Detection]:
        """Detections of the ``wanted`` classes this model answers, in pixels of an image of
        ``size``; ``small`` is that image, possibly reduced."""
        ...


class Coco:
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
        """``detect`` over the whole of ``rgb`` (``small`` is it, possibly reduced), and over
        overlapping tiles of it when it is large enough, merged (``tiles.closer``)."""

        def view(crop: Image.Image, tile: Box) -> list[Detection]:
            factor = max(1, min(crop.size) // SSD_SIZE)
            return self._view(crop.reduce(factor) if factor > 1 else crop, tile, wanted)

        return closer(rgb, self.detect(small, rgb.size, wanted), view)

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


class OpenImages:
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


class Faces:
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
