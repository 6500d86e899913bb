"""Analysing one image: fetch it (a `url`) or take its bytes (a `blob`), decode it, run the detector,
and describe what it found in the v2 spec's terms. Whichever process runs an image calls this."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from bot.imageintelligence.contract import (
    IMAGE_DETECTION_ENGINE_ERROR,
    IMAGE_DOWNLOAD_ERROR,
    IMAGE_FORMAT_ERROR,
    IMAGE_OK,
    IMAGE_UNKNOWN_ERROR,
)
from bot.images.decode import InvalidImage, decode_image
from bot.localapi.detector import Detector, get_detector
from bot.localapi.jobs import Analysis
from bot.localapi.tiles import Detection, one_per_object
from bot.net.fetch import Fetcher, FetchError, TooLarge, TooSlow
from bot.vocabulary import labels_for, labels_needed

logger = logging.getLogger(__name__)

# All the links of one job are fetched within this long of its creation; whatever is left then
# fails at once, so that one job's links to a slow server hold the link threads this long at most.
JOB_FETCH_SECONDS = 30.0
# Why a link gave no image, whatever the reason (refused, unresolved, unreachable, an HTTP error):
# a caller learns nothing of the network this API runs in. The log has the reason.
NOT_FETCHED = "no image could be fetched from this link"


def fetch_deadline(created_at_ms: int) -> float:
    """When (UNIX seconds) the links of a job created at `created_at_ms` must be fetched by."""
    return created_at_ms / 1000 + JOB_FETCH_SECONDS


def too_large(max_bytes: int) -> str:
    """Why an image over the size limit was refused."""
    return f"larger than {max_bytes} bytes"


class Analyser:
    """Runs images through the detector; thread-safe.

    `detector=None` uses the process's shared detector, loaded on the first image: gunicorn forks
    after the app is built, and a model runtime's threads do not survive a fork. `url` images are
    fetched by `fetcher` (bot.net.fetch: the guard against server-side request forgery, see
    create_app), each within `url_timeout` and by its job's deadline on `clock` (UNIX seconds).
    """

    def __init__(
        self,
        *,
        detector: Detector | None,
        detail: str,
        max_image_bytes: int,
        url_timeout: float,
        fetcher: Fetcher,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._detector = detector
        self._detail = detail
        self._max_image_bytes = max_image_bytes
        self._url_timeout = url_timeout
        self._fetcher = fetcher
        self._clock = clock

    def __repr__(self) -> str:
        return f"Analyser(max_image_bytes={self._max_image_bytes})"

    def run(self, classes: Sequence[str], source: str | bytes, fetch_by: float) -> Analysis:
        """The image's analysis; never raises (an unexpected failure is an UNKNOWN_ERROR).
        A `url` source is fetched by `fetch_by` (UNIX seconds, see fetch_deadline)."""
        try:
            data = self._fetch(source, fetch_by) if isinstance(source, str) else source
            if isinstance(data, Analysis):
                return data
            return self._analyse(classes, data)
        except Exception:
            logger.exception("unexpected error on an image")
            return Analysis(IMAGE_UNKNOWN_ERROR, error="unexpected error")

    def close(self) -> None:
        self._fetcher.close()

    def _fetch(self, url: str, fetch_by: float) -> bytes | Analysis:
        timeout = min(self._url_timeout, fetch_by - self._clock())
        try:
            if timeout > 0:
                return self._fetcher.fetch(url, max_bytes=self._max_image_bytes, timeout=timeout)
        except TooLarge:
            return Analysis(IMAGE_DOWNLOAD_ERROR, error=too_large(self._max_image_bytes))
        except TooSlow:
            pass
        except FetchError as exc:
            logger.info("a url image was not fetched: %s", exc)
            return Analysis(IMAGE_DOWNLOAD_ERROR, error=NOT_FETCHED)
        if timeout < self._url_timeout:
            ran_out = f"its job's {JOB_FETCH_SECONDS:g} s for fetching links ran out"
            return Analysis(IMAGE_DOWNLOAD_ERROR, error=ran_out)
        return Analysis(IMAGE_DOWNLOAD_ERROR, error=f"took longer than {self._url_timeout:g} s")

    def _analyse(self, classes: Sequence[str], data: bytes) -> Analysis:
        try:
            if len(data) > self._max_image_bytes:
                raise InvalidImage(too_large(self._max_image_bytes))
            decoded = decode_image(data)
        except InvalidImage as exc:
            return Analysis(IMAGE_FORMAT_ERROR, error=str(exc))
        try:
            detections = self._load_detector().detect(
                decoded.image, labels_needed(classes), detail=self._detail
            )
        except Exception:
            logger.exception("the detector failed")
            return Analysis(IMAGE_DETECTION_ENGINE_ERROR, error="the detector failed")
        # Boxes in the pixels of the image sent, as the hosted API gives them.
        found = [replace(d, box=decoded.to_original(d.box)) for d in detections]
        return Analysis(IMAGE_OK, describe(found, classes))

    def _load_detector(self) -> Detector:
        return self._detector or get_detector()


def describe(detections: Sequence[Detection], classes: Sequence[str]) -> list[dict[str, Any]]:
    """One result object per requested class, in order, with a box per object that counts for it
    (``one_per_object``: a face and the body around it are one person), best first. Every box
    scored at least its model's threshold (the models keep no other)."""
    objects = []
    for name in classes:
        labels = labels_for(name)
        if labels is None:
            objects.append(
                {
                    "class": name,
                    "confidence": 0.0,
                    "verdict": False,
                    "supported": False,
                    "boundingBoxes": [],
                }
            )
            continue
        matches = one_per_object([d for d in detections if d.label in labels])
        objects.append(
            {
                "class": name,
                "confidence": round(matches[0].confidence, 4) if matches else 0.0,
                "verdict": bool(matches),
                "boundingBoxes": [_box(d) for d in matches],
            }
        )
    return objects


def _box(detection: Detection) -> dict[str, Any]:
    x_min, y_min, x_max, y_max = (round(v) for v in detection.box)
    return {
        "xMin": x_min,
        "yMin": y_min,
        "xMax": x_max,
        "yMax": y_max,
        "confidence": round(detection.confidence, 4),
    }
