"""A CPU object detector: safe image decoding plus two TensorFlow Lite models from Google MediaPipe.

- Objects: SSD-MobileNetV2 trained on Open Images v4: 23 classes, labelled with the label map's
  names in lower case ("person", "car", "bicycle", "cat", "dog", "coffee cup", "mug", ...).
- Faces: BlazeFace full range, label "face".

Both run with ai-edge-litert, numpy and pillow; the model files ship in ``models/`` beside this.

Thread safety: a LiteRT ``Interpreter`` must not be used by two threads at once. A ``Detector``
keeps a small pool of interpreter pairs (created on demand, at most ``max_sessions``); each
``detect()`` call borrows one for its duration. A pool rather than one interpreter per thread
(``threading.local``) means a server that runs each request on a fresh thread does not load the
model again for every thread, and the number of models in memory stays bounded (about 60 MiB
each). Each interpreter runs on one CPU thread: measured on 2 cores at 1024 px, two callers with
one thread each gave ~63 images/s against ~53 with two threads each, at the same CPU per image;
two threads only shorten a lone caller's wall time (~17 ms instead of ~28 ms).
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import queue
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

MODELS_DIR = Path(__file__).resolve().parent / "models"
OBJECT_MODEL = "object_detection_ssd_mobilenetv2_oidv4_fp16.tflite"
OBJECT_LABELS = "object_detection_oidv4_labelmap.txt"
FACE_MODEL = "face_detection_full_range_sparse.tflite"
FACE_LABEL = "face"

MAX_PIXELS = 40_000_000
ACCEPTED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "GIF", "WEBP", "BMP", "TIFF"})
_LIMIT = f"limit {MAX_PIXELS // 1_000_000} megapixels"

_SSD_SIZE = 300
_FACE_SIZE = 192
_FACE_GRID = 48
# Logits are clipped before the sigmoid so that exp() cannot overflow.
_LOGIT_CLIP = 80.0

Box = tuple[float, float, float, float]


class InvalidImage(ValueError):
    """The bytes are not a usable image; ``str(e)`` is a short reason fit to show to a user."""


@dataclass(frozen=True)
class Detection:
    label: str
    confidence: float
    box: Box  # x_min, y_min, x_max, y_max in pixels of the decoded image


def decode_image(data: bytes) -> Image.Image:
    """Decode ``data`` into an RGB image, EXIF orientation applied, first frame of an animation.

    Raises ``InvalidImage`` (never a PIL exception) for empty, non-image, unsupported, truncated or
    damaged data, and for images over ``MAX_PIXELS``: that is checked from the header before any
    pixel is decoded, so a decompression bomb costs neither time nor memory.
    """
    if not data:
        raise InvalidImage("empty file")
    try:
        image = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise InvalidImage(_too_large_from_pil(e)) from None
    except Exception:
        raise InvalidImage("not an image") from None
    with image:
        if image.format not in ACCEPTED_FORMATS:
            raise InvalidImage(f"unsupported image format ({image.format})")
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise InvalidImage(f"image too large ({width}\u00d7{height} pixels, {_LIMIT})")
        try:
            image.load()
            return _to_rgb(ImageOps.exif_transpose(image))
        except Exception:
            raise InvalidImage("truncated or damaged image") from None


def _too_large_from_pil(error: Exception) -> str:
    # PIL refuses the very largest images inside Image.open(), before their size can be read;
    # its message carries the pixel count.
    match = re.search(r"\((\d+) pixels\)", str(error))
    size = f"{int(match.group(1)) / 1e6:.0f} megapixels, " if match else ""
    return f"image too large ({size}{_LIMIT})"


def _to_rgb(image: Image.Image) -> Image.Image:
    """RGB version of any mode: transparency flattened onto white, 16-bit and float greys scaled."""
    if image.mode == "RGB":
        return image
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        # PIL's own convert() clips these to 0..255, which turns a 16-bit photo white.
        values = np.asarray(image)
        if image.mode == "F":
            low, high = float(values.min()), float(values.max())
            scaled = (values - low) * (255.0 / (high - low)) if high > low else values * 0.0
        else:
            # Integer greys come from 16-bit files (PNG, TIFF): full range 0..65535.
            scaled = np.clip(values, 0, 65535) / 257.0
        return Image.fromarray(np.rint(scaled).astype(np.uint8)).convert("RGB")
    if image.has_transparency_data:
        # Premultiplied grey ("La", from TIFF) has no direct conversion to RGBA.
        rgba = (image.convert("LA") if image.mode == "La" else image).convert("RGBA")
        flattened = Image.new("RGB", rgba.size, (255, 255, 255))
        flattened.paste(rgba, mask=rgba.getchannel("A"))
        return flattened
    return image.convert("RGB")


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
    """A 1xHxWx3 float32 tensor scaled to [-1, 1], as both models expect."""
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


class _Session:
    """One interpreter per model, used by one thread at a time."""

    def __init__(self, object_model: bytes, face_model: bytes, num_threads: int) -> None:
        from ai_edge_litert.interpreter import Interpreter  # heavy: imported only to load a model

        self.objects = Interpreter(model_content=object_model, num_threads=num_threads)
        self.faces = Interpreter(model_content=face_model, num_threads=num_threads)
        self.objects.allocate_tensors()
        self.faces.allocate_tensors()
        self.object_input = self.objects.get_input_details()[0]["index"]
        outputs = {d["name"]: d for d in self.objects.get_output_details()}
        self.box_encodings = outputs["raw_outputs/box_encodings"]["index"]
        self.class_predictions = outputs["raw_outputs/class_predictions"]["index"]
        self.object_classes = int(outputs["raw_outputs/class_predictions"]["shape"][-1])
        self.face_input = self.faces.get_input_details()[0]["index"]
        by_width = {int(d["shape"][-1]): d["index"] for d in self.faces.get_output_details()}
        self.face_regressors, self.face_scores = by_width[16], by_width[1]

    def run(self, objects_in: np.ndarray, faces_in: np.ndarray) -> tuple[np.ndarray, ...]:
        """Box encodings, class logits, face regressors, face logits."""
        self.objects.set_tensor(self.object_input, objects_in)
        self.objects.invoke()
        self.faces.set_tensor(self.face_input, faces_in)
        self.faces.invoke()
        return (
            self.objects.get_tensor(self.box_encodings)[0],
            self.objects.get_tensor(self.class_predictions)[0],
            self.faces.get_tensor(self.face_regressors)[0],
            self.faces.get_tensor(self.face_scores)[0, :, 0],
        )


class Detector:
    """Finds the 23 Open Images v4 classes and faces in images; ``detect`` is thread-safe."""

    def __init__(
        self,
        models_dir: Path = MODELS_DIR,
        *,
        score_threshold: float = 0.35,
        iou_threshold: float = 0.4,
        face_threshold: float = 0.6,
        face_iou_threshold: float = 0.3,
        num_threads: int = 1,
        max_sessions: int | None = None,
    ) -> None:
        names = (models_dir / OBJECT_LABELS).read_text(encoding="utf-8").splitlines()
        # Line 0 of the label map ("???") is the background column of the class scores.
        self._object_labels = tuple(name.strip().lower() for name in names[1:])
        self.labels: frozenset[str] = frozenset((*self._object_labels, FACE_LABEL))
        self._object_model = (models_dir / OBJECT_MODEL).read_bytes()
        self._face_model = (models_dir / FACE_MODEL).read_bytes()
        self._score_threshold = score_threshold
        self._iou_threshold = iou_threshold
        self._face_threshold = face_threshold
        self._face_iou_threshold = face_iou_threshold
        self._num_threads = num_threads
        self._anchors = _ssd_anchors()
        self._face_anchors = _face_anchor_centres()
        self._idle: queue.LifoQueue[_Session] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(max_sessions or os.cpu_count() or 1)
        # Load one session now, so a broken model fails at start-up rather than on the first image.
        first = self._new_session()
        if first.object_classes != len(self._object_labels) + 1:
            raise RuntimeError(f"{OBJECT_LABELS} does not match {OBJECT_MODEL}")
        self._idle.put(first)

    def _new_session(self) -> _Session:
        return _Session(self._object_model, self._face_model, self._num_threads)

    @contextlib.contextmanager
    def _session(self) -> Iterator[_Session]:
        with self._slots:
            try:
                session = self._idle.get_nowait()
            except queue.Empty:
                session = self._new_session()
            try:
                yield session
            finally:
                self._idle.put(session)

    def detect(self, image: Image.Image) -> list[Detection]:
        """Objects and faces in ``image``, highest confidence first; boxes in the image's pixels."""
        rgb = _to_rgb(image)
        size = rgb.size
        # A cheap box-filter reduction first, so that the two smoothing resizes below work on a few
        # hundred pixels rather than on the whole photo (a third of the time at 1024 px).
        factor = max(1, min(size) // _SSD_SIZE)
        small = rgb.reduce(factor) if factor > 1 else rgb
        objects_in = _as_input(small.resize((_SSD_SIZE, _SSD_SIZE), Image.Resampling.BILINEAR))
        # BlazeFace wants the whole image letterboxed into its square input.
        scale = _FACE_SIZE / max(size)
        fitted = (max(1, round(size[0] * scale)), max(1, round(size[1] * scale)))
        left, top = (_FACE_SIZE - fitted[0]) // 2, (_FACE_SIZE - fitted[1]) // 2
        letterbox = Image.new("RGB", (_FACE_SIZE, _FACE_SIZE))
        letterbox.paste(small.resize(fitted, Image.Resampling.BILINEAR), (left, top))
        with self._session() as session:
            encodings, logits, regressors, face_logits = session.run(
                objects_in, _as_input(letterbox)
            )
        side = _FACE_SIZE / scale
        found = self._objects(encodings, logits, size) + self._faces(
            regressors, face_logits, (side, side, -left / scale, -top / scale), size
        )
        return sorted(found, key=lambda d: -d.confidence)

    def _objects(
        self, encodings: np.ndarray, logits: np.ndarray, size: tuple[int, int]
    ) -> list[Detection]:
        scores = _sigmoid(logits[:, 1:])
        anchor_ids, class_ids = np.nonzero(scores >= self._score_threshold)
        a = self._anchors
        # Raw encodings are (y, x, h, w) relative to the anchor, scaled by 10, 10, 5, 5.
        cy = encodings[:, 0] / 10.0 * a[:, 3] + a[:, 1]
        cx = encodings[:, 1] / 10.0 * a[:, 2] + a[:, 0]
        h = np.exp(encodings[:, 2] / 5.0) * a[:, 3]
        w = np.exp(encodings[:, 3] / 5.0) * a[:, 2]
        boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
        found: list[Detection] = []
        for class_id in np.unique(class_ids):
            candidates = anchor_ids[class_ids == class_id]
            found += _to_detections(
                self._object_labels[class_id],
                boxes[candidates],
                scores[candidates, class_id],
                self._iou_threshold,
                (size[0], size[1], 0.0, 0.0),
                size,
            )
        return found

    def _faces(
        self, regressors: np.ndarray, logits: np.ndarray, transform: Box, size: tuple[int, int]
    ) -> list[Detection]:
        scores = _sigmoid(logits)
        candidates = np.nonzero(scores >= self._face_threshold)[0]
        # Regressors are (x, y, w, h, keypoints...) in input pixels, centre relative to the anchor.
        r = regressors[candidates, :4] / _FACE_SIZE
        cx = r[:, 0] + self._face_anchors[candidates, 0]
        cy = r[:, 1] + self._face_anchors[candidates, 1]
        w, h = r[:, 2], r[:, 3]
        boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
        return _to_detections(
            FACE_LABEL, boxes, scores[candidates], self._face_iou_threshold, transform, size
        )


_detector: Detector | None = None
_detector_lock = threading.Lock()


def get_detector() -> Detector:
    """The process's detector, loaded from the package's models on first use."""
    global _detector
    if _detector is None:
        with _detector_lock:
            if _detector is None:
                _detector = Detector()
    return _detector
