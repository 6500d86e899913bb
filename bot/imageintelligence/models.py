"""Detect job results as frozen dataclasses, parsed leniently from the API's JSON.

Fields the spec marks optional may be missing; `supported` (default True), `boundingBoxes` and an
image's `error` (why it failed) are the embedded API's extensions. A body that lacks what a result
needs raises ValueError, which the client reports as an ApiError.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .contract import IMAGE_OK, JOB_IN_PROGRESS


def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{what} is not an object")
    return value


def _str(body: Mapping[str, Any], key: str, what: str) -> str:
    value = body.get(key)
    if not isinstance(value, str):
        raise ValueError(f"{what}.{key} is missing or not a string")
    return value


def _optional_str(body: Mapping[str, Any], key: str) -> str | None:
    value = body.get(key)
    return value if isinstance(value, str) else None


def _number(value: Any, what: str) -> float:
    # bool is an int subclass, but `true` is not a number in JSON.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{what} is not a number")
    return float(value)


def _list(body: Mapping[str, Any], key: str, what: str) -> list[Any]:
    value = body.get(key, [])
    if not isinstance(value, list):
        raise ValueError(f"{what}.{key} is not a list")
    return value


@dataclass(frozen=True)
class BoundingBox:
    """A region in pixels of the original image, with the detector's score when it gave one."""

    x_min: float
    y_min: float
    x_max: float
    y_max: float
    confidence: float | None = None

    @classmethod
    def from_json(cls, body: Any) -> BoundingBox:
        box = _mapping(body, "bounding box")
        confidence = box.get("confidence")
        return cls(
            x_min=_number(box.get("xMin"), "bounding box xMin"),
            y_min=_number(box.get("yMin"), "bounding box yMin"),
            x_max=_number(box.get("xMax"), "bounding box xMax"),
            y_max=_number(box.get("yMax"), "bounding box yMax"),
            confidence=None if confidence is None else _number(confidence, "box confidence"),
        )


@dataclass(frozen=True)
class DetectedObject:
    """One requested class in one image. `supported=False`: the engine cannot recognise it,
    so `verdict` False there does not mean "not in the image"."""

    class_name: str
    confidence: float
    verdict: bool | None
    supported: bool = True
    boxes: tuple[BoundingBox, ...] = ()

    @classmethod
    def from_json(cls, body: Any) -> DetectedObject:
        obj = _mapping(body, "object")
        verdict = obj.get("verdict")
        supported = obj.get("supported", True)
        return cls(
            class_name=_str(obj, "class", "object"),
            confidence=_number(obj.get("confidence", 0.0), "object confidence"),
            verdict=verdict if isinstance(verdict, bool) else None,
            supported=supported if isinstance(supported, bool) else True,
            boxes=tuple(BoundingBox.from_json(b) for b in _list(obj, "boundingBoxes", "object")),
        )


@dataclass(frozen=True)
class ImageResult:
    """One image of a job. `error` is why it failed, in words fit for users ("no image could be
    fetched from this link"), when the API says (the embedded API does; the spec has no such
    field, so a hosted API may leave it out)."""

    id: str
    url: str
    status: str
    custom_id: str | None
    objects: tuple[DetectedObject, ...]
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == IMAGE_OK

    @property
    def found(self) -> tuple[DetectedObject, ...]:
        """The objects the API says are in the image (verdict true)."""
        return tuple(o for o in self.objects if o.verdict)

    @classmethod
    def from_json(cls, body: Any) -> ImageResult:
        image = _mapping(body, "image result")
        return cls(
            id=_str(image, "id", "imageResults[]"),
            url=_optional_str(image, "url") or "",
            status=_str(image, "status", "imageResults[]"),
            custom_id=_optional_str(image, "customId"),
            objects=tuple(
                DetectedObject.from_json(o) for o in _list(image, "objects", "imageResults[]")
            ),
            error=_optional_str(image, "error"),
        )


@dataclass(frozen=True)
class DetectJob:
    id: str
    created_at: int
    status: str
    images: tuple[ImageResult, ...]
    custom_id: str | None
    feed_id: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @property
    def finished(self) -> bool:
        return self.status != JOB_IN_PROGRESS

    @classmethod
    def from_json(cls, body: Any) -> DetectJob:
        """Parse a DetectJobResponse; raises ValueError when it lacks what a result needs."""
        if not isinstance(body, dict):
            raise ValueError("detect job is not an object")
        created_at = body.get("createdAt", 0)
        return cls(
            id=_str(body, "id", "job"),
            created_at=int(_number(created_at, "job createdAt")),
            status=_str(body, "status", "job"),
            images=tuple(ImageResult.from_json(i) for i in _list(body, "imageResults", "job")),
            custom_id=_optional_str(body, "customId"),
            feed_id=_optional_str(body, "feedId"),
            raw=body,
        )
