"""Analysing one image: fetch it (a `url`) or take its bytes (a `blob`), decode it, run the detector,
and describe what it found in the v2 spec's terms. Whichever process runs an image calls this."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import requests

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
from bot.localapi.tiles import Detection
from bot.net.fetch import DownloadError, download, too_large
from bot.vocabulary import labels_for, labels_needed

logger = logging.getLogger(__name__)


class Analyser:
    """Runs images through the detector; thread-safe.

    `detector=None` uses the process's shared detector, loaded on the first image: gunicorn forks
    after the app is built, and a model runtime's threads do not survive a fork. `url` images are
    fetched with bot.net.fetch's guard against server-side request forgery (see create_app).
    """

    def __init__(
        self,
        *,
        detector: Detector | None,
        detail: str,
        max_image_bytes: int,
        url_timeout: float,
        private_urls: bool,
        allowed_private_hosts: frozenset[str],
    ) -> None:
        self._detector = detector
        self._detail = detail
        self._max_image_bytes = max_image_bytes
        self._url_timeout = url_timeout
        self._private_urls = private_urls
        self._allowed_private_hosts = allowed_private_hosts
        self._session = requests.Session()

    def __repr__(self) -> str:
        return f"Analyser(max_image_bytes={self._max_image_bytes})"

    def run(self, classes: Sequence[str], source: str | bytes) -> Analysis:
        """The image's analysis; never raises (an unexpected failure is an UNKNOWN_ERROR)."""
        try:
            return self._analyse(classes, source)
        except Exception:
            logger.exception("unexpected error on an image")
            return Analysis(IMAGE_UNKNOWN_ERROR, error="unexpected error")

    def close(self) -> None:
        self._session.close()

    def _analyse(self, classes: Sequence[str], source: str | bytes) -> Analysis:
        try:
            data = source
            if isinstance(data, str):
                data = download(
                    self._session,
                    data,
                    max_bytes=self._max_image_bytes,
                    timeout=self._url_timeout,
                    private_urls=self._private_urls,
                    allowed_private_hosts=self._allowed_private_hosts,
                )
            elif len(data) > self._max_image_bytes:
                raise InvalidImage(too_large(self._max_image_bytes))
            decoded = decode_image(data)
        except DownloadError as exc:
            return Analysis(IMAGE_DOWNLOAD_ERROR, error=str(exc))
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
    """One result object per requested class, in order, with the boxes that count for it."""
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
        matches = sorted(
            (d for d in detections if d.label in labels), key=lambda d: d.confidence, reverse=True
        )
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
