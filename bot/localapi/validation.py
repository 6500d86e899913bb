"""Checking request bodies and queries against the v2 spec, into small typed values.

Every problem raises `BadRequest` naming the field by its JSON path (`images[3].url`). Fields the
spec does not define are ignored, as Swagger allows; fields the spec defines but this server cannot
honour (`webhookUrl`, `exclusionZones`) are refused rather than silently dropped.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from bot.imageintelligence.contract import (
    FEEDBACK_CODES,
    MAX_ID_LENGTH,
    MAX_IMAGES_PER_JOB,
    MAX_URL_LENGTH,
    VERIFY_MODES,
)
from bot.localapi.errors import BadRequest


@dataclass(frozen=True)
class Credentials:
    client_id: str
    client_secret: str = field(repr=False)


@dataclass(frozen=True)
class ImageInput:
    """One requested image: `source` is its URL, or the decoded bytes of its blob."""

    source: str | bytes = field(repr=False)
    custom_id: str | None


@dataclass(frozen=True)
class DetectRequest:
    images: tuple[ImageInput, ...]
    classes: tuple[str, ...]
    custom_id: str | None
    feed_id: str | None


@dataclass(frozen=True)
class FeedbackRequest:
    job_id: str
    created_at: int
    classes: tuple[tuple[str, str], ...]  # (class, FALSE_POSITIVE | FALSE_NEGATIVE)


@dataclass(frozen=True)
class SearchQuery:
    custom_id: str | None
    feed_id: str | None
    before: float | None  # createdAt < before (UNIX ms)
    after: float | None  # createdAt > after (UNIX ms)


def parse_credentials(body: Any) -> Credentials:
    obj = _object(body, "body")
    return Credentials(
        client_id=_required_string(obj, "clientId", "clientId"),
        client_secret=_required_string(obj, "clientSecret", "clientSecret"),
    )


def parse_detect_request(body: Any) -> DetectRequest:
    obj = _object(body, "body")
    images = _array(obj, "images", "images", max_items=MAX_IMAGES_PER_JOB, noun="images per job")
    classes = _array(obj, "classes", "classes")
    if "webhookUrl" in obj:
        raise BadRequest(
            "webhookUrl", "webhooks are not supported by the embedded API; poll instead"
        )
    return DetectRequest(
        images=tuple(_image(item, f"images[{i}]") for i, item in enumerate(images)),
        classes=tuple(_class(item, f"classes[{i}]") for i, item in enumerate(classes)),
        custom_id=_optional_string(obj, "customId", "customId", max_length=MAX_ID_LENGTH),
        feed_id=_optional_string(obj, "feedId", "feedId", max_length=MAX_ID_LENGTH),
    )


def parse_feedback_request(body: Any) -> FeedbackRequest:
    obj = _object(body, "body")
    job_id = _required_string(obj, "jobId", "jobId")
    if "createdAt" not in obj:
        raise BadRequest("createdAt", "required")
    created_at = obj["createdAt"]
    if not isinstance(created_at, int) or isinstance(created_at, bool):
        raise BadRequest("createdAt", f"must be an integer (UNIX ms), not {_json_type(created_at)}")
    items = _array(obj, "classes", "classes")
    classes = []
    for i, value in enumerate(items):
        item = _object(value, f"classes[{i}]")
        name = _required_string(item, "class", f"classes[{i}].class")
        code = _required_string(item, "code", f"classes[{i}].code")
        if code not in FEEDBACK_CODES:
            raise BadRequest(f"classes[{i}].code", f"must be one of {', '.join(FEEDBACK_CODES)}")
        classes.append((name, code))
    return FeedbackRequest(job_id=job_id, created_at=created_at, classes=tuple(classes))


def parse_search_query(query_string: str) -> SearchQuery:
    params = parse_qs(query_string, keep_blank_values=True)

    def single(name: str) -> str | None:
        values = params.get(name)
        if values is None:
            return None
        if len(values) > 1:
            raise BadRequest(name, "given more than once")
        return values[0]

    def timestamp(name: str) -> float | None:
        raw = single(name)
        if raw is None:
            return None
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise BadRequest(name, "must be a number (UNIX time in milliseconds)")
        return value

    return SearchQuery(
        custom_id=single("customId"),
        feed_id=single("feedId"),
        before=timestamp("before"),
        after=timestamp("after"),
    )


def _image(value: Any, path: str) -> ImageInput:
    item = _object(value, path)
    url = _optional_string(item, "url", f"{path}.url", max_length=MAX_URL_LENGTH)
    blob = _optional_string(item, "blob", f"{path}.blob")
    custom_id = _optional_string(item, "customId", f"{path}.customId", max_length=MAX_ID_LENGTH)
    if url is not None and blob is None:
        return ImageInput(source=url, custom_id=custom_id)
    if blob is None or url is not None:
        raise BadRequest(path, "give exactly one of url and blob")
    try:
        data = base64.b64decode(blob, validate=True)
    except ValueError:  # binascii.Error, or non-ASCII characters
        raise BadRequest(f"{path}.blob", "not valid base64") from None
    return ImageInput(source=data, custom_id=custom_id)


def _class(value: Any, path: str) -> str:
    item = _object(value, path)
    name = _required_string(item, "class", f"{path}.class")
    if not name.strip():
        raise BadRequest(f"{path}.class", "must not be empty")
    verify = _optional_string(item, "verify", f"{path}.verify")
    if verify is not None and verify not in VERIFY_MODES:
        raise BadRequest(f"{path}.verify", f"must be one of {', '.join(VERIFY_MODES)}")
    if "exclusionZones" in item:
        raise BadRequest(
            f"{path}.exclusionZones", "exclusion zones are not supported by the embedded API"
        )
    return name


def _object(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadRequest(path, f"must be a JSON object, not {_json_type(value)}")
    return value


def _array(
    obj: dict[str, Any], key: str, path: str, *, max_items: int | None = None, noun: str = "items"
) -> list[Any]:
    if key not in obj:
        raise BadRequest(path, "required")
    value = obj[key]
    if not isinstance(value, list):
        raise BadRequest(path, f"must be an array, not {_json_type(value)}")
    if not value:
        raise BadRequest(path, "must not be empty")
    if max_items is not None and len(value) > max_items:
        raise BadRequest(path, f"at most {max_items} {noun}, got {len(value)}")
    return value


def _optional_string(
    obj: dict[str, Any], key: str, path: str, *, max_length: int | None = None
) -> str | None:
    if key not in obj:
        return None
    value = obj[key]
    if not isinstance(value, str):
        raise BadRequest(path, f"must be a string, not {_json_type(value)}")
    if max_length is not None and len(value) > max_length:
        raise BadRequest(path, f"at most {max_length} characters, got {len(value)}")
    return value


def _required_string(obj: dict[str, Any], key: str, path: str) -> str:
    value = _optional_string(obj, key, path)
    if value is None:
        raise BadRequest(path, "required")
    return value


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
