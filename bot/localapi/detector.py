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
THOROUGH also runs the COCO model over up to six overlapping tiles of a large image and merges
what the views found into one box per object (tiles.py); BlazeFace and the OIDv4 model still run
once. BENCHMARKS.md has what each finds and costs.

Thread safety: a LiteRT ``Interpreter`` must not be used by two threads at once. A ``Detector``
keeps, per model, a small pool of interpreters (created on demand, at most ``max_sessions``);
each model run borrows one for its duration, and a call holds at most one at a time. A pool
rather than one interpreter per thread (``threading.local``) means a server that runs each
request on a fresh thread does not load the models again for every thread, and the number of
models in memory stays bounded. Each interpreter runs on one CPU thread (docs/decisions.md, "The
detector's threads").
"""

from __future__ import annotations

import os
import threading
from collections.abc import Collection
from pathlib import Path

from PIL import Image

from bot.images.decode import to_rgb
from bot.localapi.models import MODELS_DIR, SSD_SIZE, Coco, Faces, Model, OpenImages
from bot.localapi.tiles import Detection
from bot.vocabulary import (
    ANSWERED_BY,
    BLAZEFACE,
    CLASS_NAMES,
    COCO,
    DEFAULT_DETAIL,
    DETAILS,
    OIDV4,
    THOROUGH,
)


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
        self._coco = Coco(models_dir, size, num_threads)
        self._models: dict[str, Model] = {
            COCO: self._coco,
            OIDV4: OpenImages(models_dir, size, num_threads),
            BLAZEFACE: Faces(models_dir, size, num_threads),
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
        factor = max(1, min(rgb.size) // SSD_SIZE)
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
