"""Request bodies and queries, checked against the v2 spec (`schema`), into small typed values.

The spec is checked first; then what the embedded API adds to it: an image gives exactly one of
`url` and `blob`, a blob is base64, a class name is not blank, and the fields the spec defines but
this server cannot honour (`webhookUrl`, `exclusionZones`) are refused rather than silently dropped.
Every problem raises `BadRequest` naming the field by its JSON path.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from bot.localapi import schema
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
    custom_id: str | None = None
    feed_id: str | None = None
    before: float | None = None  # createdAt < before (UNIX ms)
    after: float | None = None  # createdAt > after (UNIX ms)


def parse_credentials(body: Any) -> Credentials:
    schema.check("ClientCredentials", body)
    return Credentials(client_id=body["clientId"], client_secret=body["clientSecret"])


def parse_detect_request(body: Any) -> DetectRequest:
    schema.check("DetectJobRequest", body)
    if "webhookUrl" in body:
        raise BadRequest(
            "webhookUrl", "webhooks are not supported by the embedded API; poll instead"
        )
    return DetectRequest(
        images=tuple(_image(item, f"images[{i}]") for i, item in enumerate(body["images"])),
        classes=tuple(_class(item, f"classes[{i}]") for i, item in enumerate(body["classes"])),
        custom_id=body.get("customId"),
        feed_id=body.get("feedId"),
    )


def parse_feedback_request(body: Any) -> FeedbackRequest:
    schema.check("FeedbackRequest", body)
    return FeedbackRequest(
        job_id=body["jobId"],
        created_at=body["createdAt"],
        classes=tuple((item["class"], item["code"]) for item in body["classes"]),
    )


def parse_search_query(query_string: str) -> SearchQuery:
    """The spec's query parameters of `GET /detect`; others are ignored."""
    params = parse_qs(query_string, keep_blank_values=True)
    values: dict[str, Any] = {}
    for name, kind in schema.query_parameters("/detect", "get").items():
        given = params.get(name)
        if given is None:
            continue
        if len(given) > 1:
            raise BadRequest(name, "given more than once")
        values[name] = _number(name, given[0]) if kind == "number" else given[0]
    return SearchQuery(
        custom_id=values.get("customId"),
        feed_id=values.get("feedId"),
        before=values.get("before"),
        after=values.get("after"),
    )


def _number(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise BadRequest(name, "must be a number (UNIX time in milliseconds)")
    return value


def _image(item: dict[str, Any], path: str) -> ImageInput:
    url, blob, custom_id = item.get("url"), item.get("blob"), item.get("customId")
    if url is not None and blob is None:
        return ImageInput(source=url, custom_id=custom_id)
    if blob is None or url is not None:
        raise BadRequest(path, "give exactly one of url and blob")
    try:
        data = base64.b64decode(blob, validate=True)
    except ValueError:  # binascii.Error, or non-ASCII characters
        raise BadRequest(f"{path}.blob", "not valid base64") from None
    return ImageInput(source=data, custom_id=custom_id)


def _class(item: dict[str, Any], path: str) -> str:
    name: str = item["class"]
    if not name.strip():
        raise BadRequest(f"{path}.class", "must not be empty")
    if "exclusionZones" in item:
        raise BadRequest(
            f"{path}.exclusionZones", "exclusion zones are not supported by the embedded API"
        )
    return name
