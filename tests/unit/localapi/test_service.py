"""The embedded API over real HTTP on loopback, with the real detector and real photos.

Every request body sent is checked against the v2 spec (or shown to be one the spec itself
rejects), and every successful response is validated against its definition.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import requests

from bot.httpserver import ServerThread
from bot.imageintelligence.models import ImageResult
from bot.images.annotate import annotate
from bot.images.decode import decode_image
from bot.localapi.service import create_app, generate_credentials, start_local_api
from tests.support import apispec
from tests.support.faultserver import free_port
from tests.support.imagehost import ImageHost
from tests.support.localapi_client import (
    Api,
    ApiLike,
    bearer,
    blob,
    by_class,
    classes,
    detect,
    get_job,
    new_token,
    search,
    submit,
    wait_for,
)
from tests.support.paths import REPO
from tests.support.photos import camera_closeup, photo
from tests.support.scenes import SCENES

DAY_MS = 24 * 60 * 60 * 1000


def assert_error(response: requests.Response, status: int, code: str, field: str | None = None):
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    if field is not None:
        assert error["field"] == field
        assert error["message"].startswith(f"{field}: ")
    return error


def assert_still_serving(api: ApiLike) -> None:
    assert isinstance(search(api, "", bearer(api)), list)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# --- tokens ------------------------------------------------------------------------------------


def test_token_lives_24_hours_and_each_call_mints_a_new_one(local_api: ApiLike) -> None:
    before = int(time.time() * 1000)
    first, second = new_token(local_api), new_token(local_api)
    after = int(time.time() * 1000)
    assert before <= first["issuedAt"] <= after
    assert first["expiresAt"] - first["issuedAt"] == DAY_MS
    assert first["accessToken"] != second["accessToken"]
    for token in (first, second):
        headers = {"Authorization": f"Bearer {token['accessToken']}"}
        assert search(local_api, "", headers) is not None


@pytest.mark.parametrize("wrong", ["clientId", "clientSecret", "both, non-ASCII"])
def test_wrong_credentials_get_401(local_api: ApiLike, wrong: str) -> None:
    body = {"clientId": local_api.client_id, "clientSecret": local_api.client_secret}
    if wrong in body:
        body[wrong] += "x"
    else:
        body = {"clientId": "é", "clientSecret": "ü"}
    apispec.validate("ClientCredentials", body)
    response = requests.post(f"{local_api.base_url}/oauth/token", json=body, timeout=10)
    error = assert_error(response, 401, "invalid_client")
    assert local_api.client_secret not in response.text
    assert "accessToken" not in response.text
    assert error["message"] == "invalid client credentials"
    assert_still_serving(local_api)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"clientId": "x"}, "clientSecret"),
        ({"clientSecret": "x"}, "clientId"),
        ({"clientId": 1, "clientSecret": "x"}, "clientId"),
        (["clientId", "clientSecret"], "body"),
    ],
)
def test_malformed_token_requests_get_400(local_api: ApiLike, body: Any, field: str) -> None:
    assert apispec.errors("ClientCredentials", body)
    response = requests.post(f"{local_api.base_url}/oauth/token", json=body, timeout=10)
    assert_error(response, 400, "bad_request", field)
    assert_still_serving(local_api)


def test_tokens_expire_after_24_hours_on_the_injected_clock(make_api: Callable[..., Api]) -> None:
    clock = Clock(1_700_000_000.0)
    api = make_api(clock=clock)
    token = new_token(api)
    assert token["issuedAt"] == 1_700_000_000_000
    assert token["expiresAt"] == 1_700_000_000_000 + DAY_MS
    headers = {"Authorization": f"Bearer {token['accessToken']}"}

    clock.now += DAY_MS / 1000 - 0.001
    assert search(api, "", headers) == []
    clock.now += 0.001
    response = requests.get(f"{api.base_url}/detect", headers=headers, timeout=10)
    error = assert_error(response, 401, "unauthorized")
    assert error["message"] == "access token expired"
    assert token["accessToken"] not in response.text
    # A fresh token works again at the new time.
    assert search(api, "", bearer(api)) == []


def test_missing_forged_and_foreign_tokens_get_401(
    local_api: ApiLike, make_api: Callable[..., Api]
) -> None:
    token = new_token(local_api)["accessToken"]
    issued, expires, nonce, signature = token.split(".")
    other_instance_token = new_token(make_api())["accessToken"]
    cases = {
        "no header": None,
        "basic auth": "Basic dXNlcjpwYXNz",
        "bearer without token": "Bearer ",
        "garbage": "Bearer not-a-token",
        "bad signature": f"Bearer {issued}.{expires}.{nonce}.{'0' * len(signature)}",
        "extended expiry": f"Bearer {issued}.{int(expires) + DAY_MS}.{nonce}.{signature}",
        "another instance's token": f"Bearer {other_instance_token}",
    }
    for name, authorization in cases.items():
        headers = {} if authorization is None else {"Authorization": authorization}
        for method, path in [("GET", "/detect"), ("GET", "/detect/x"), ("POST", "/detect")]:
            response = requests.request(
                method, f"{local_api.base_url}{path}", headers=headers, json={}, timeout=10
            )
            assert_error(response, 401, "unauthorized")
            assert response.headers["WWW-Authenticate"].startswith("Bearer"), name
    assert_still_serving(local_api)


# --- detection on real photos --------------------------------------------------------------------


def test_detects_people_cats_and_coffee_cups_in_real_photos(local_api: ApiLike) -> None:
    body = {
        "images": [
            blob(photo("astronaut.png"), "astronaut"),
            blob(photo("grace_hopper.jpg"), "grace"),
            blob(photo("chelsea.png"), "chelsea"),
            blob(photo("coffee.png"), "coffee"),
        ],
        "classes": classes("person", "cat", "coffee cup"),
        "customId": "photos-1",
        "feedId": "camera-7",
    }
    job = detect(local_api, body)

    assert job["status"] == "COMPLETED_SUCCESSFULLY"
    assert (job["customId"], job["feedId"]) == ("photos-1", "camera-7")
    images = {image["customId"]: image for image in job["imageResults"]}
    found = {
        name: {cls for cls, obj in by_class(image).items() if obj["verdict"]}
        for name, image in images.items()
    }
    assert found == {
        "astronaut": {"person"},
        "grace": {"person"},
        "chelsea": {"cat"},
        "coffee": {"coffee cup"},
    }
    sizes = {"astronaut": (512, 512), "grace": (512, 600), "chelsea": (451, 300)}
    sizes["coffee"] = (600, 400)
    for name, image in images.items():
        assert image["status"] == "COMPLETED_SUCCESSFULLY"
        assert image["url"] == f"blob:{image['id']}"
        assert [obj["class"] for obj in image["objects"]] == ["person", "cat", "coffee cup"]
        width, height = sizes[name]
        for obj in image["objects"]:
            assert "supported" not in obj
            boxes = obj["boundingBoxes"]
            assert bool(boxes) == obj["verdict"]
            if not boxes:
                assert obj["confidence"] == 0
                continue
            assert obj["confidence"] == max(box["confidence"] for box in boxes) > 0.3
            for box in boxes:
                apispec.validate("BoundingBox", box)
                assert 0 <= box["xMin"] < box["xMax"] <= width
                assert 0 <= box["yMin"] < box["yMax"] <= height

    # jobResults: one item per class found anywhere, pointing at its best image.
    results = {item["class"]: item for item in job["jobResults"]}
    assert set(results) == {"person", "cat", "coffee cup"}
    assert all(item["hitl"] is False for item in results.values())
    assert results["cat"]["image"]["customId"] == "chelsea"
    assert results["coffee cup"]["image"]["id"] == images["coffee"]["id"]
    best_person = max(by_class(images[n])["person"]["confidence"] for n in ("astronaut", "grace"))
    assert results["person"]["image"]["confidence"] == best_person


def edge_change(before: bytes, after: bytes, box: dict[str, int]) -> float:
    """Mean pixel change along the middle half of a box's left edge."""
    old, new = (np.asarray(decode_image(data).image, dtype=np.int16) for data in (before, after))
    quarter = (box["yMax"] - box["yMin"]) // 4
    rows = slice(box["yMin"] + quarter, box["yMax"] - quarter)
    columns = slice(box["xMin"], box["xMin"] + 2)
    return float(np.abs(new[rows, columns] - old[rows, columns]).mean())


def area(box: dict[str, int]) -> int:
    return (box["xMax"] - box["xMin"]) * (box["yMax"] - box["yMin"])


def test_each_model_answers_its_classes_and_every_box_is_drawn(local_api: ApiLike) -> None:
    closeup = io.BytesIO()
    camera_closeup().save(closeup, "PNG")
    images = {"grace": photo("grace_hopper.jpg"), "camera": closeup.getvalue()}
    body = {
        "images": [blob(data, name) for name, data in images.items()],
        # COCO, COCO + BlazeFace, OIDv4, COCO by a synonym, and words for classes not there.
        "classes": classes("tie", "person", "Cameras", "motorbike", "horse", "unicorn"),
    }
    job = detect(local_api, body)
    assert job["status"] == "COMPLETED_SUCCESSFULLY"
    results = {image["customId"]: image for image in job["imageResults"]}
    found = {
        name: {cls for cls, obj in by_class(image).items() if obj["verdict"]}
        for name, image in results.items()
    }
    assert found == {"grace": {"tie", "person"}, "camera": {"Cameras"}}
    unsupported = {
        cls
        for image in results.values()
        for cls, obj in by_class(image).items()
        if "supported" in obj
    }
    assert unsupported == {"unicorn"}
    # One person on the portrait, in the COCO body box: BlazeFace's face inside it is the same
    # person (tests/unit/localapi/test_analysis.py).
    (body_box,) = by_class(results["grace"])["person"]["boundingBoxes"]
    assert area(body_box) > 512 * 600 // 2

    for name, data in images.items():
        result = ImageResult.from_json(results[name])
        drawn = annotate(data, result)
        assert drawn is not None
        boxes = [box for obj in results[name]["objects"] for box in obj["boundingBoxes"]]
        assert len(boxes) == sum(len(obj.boxes) for obj in result.found) == 2
        for box in boxes:
            assert edge_change(data, drawn, box) > 25, (name, box)


def test_detail_chooses_how_closely_the_api_looks_with_a_box_per_object(
    make_api: Callable[..., Api],
) -> None:
    beach = {"images": [blob((SCENES / "kite.jpg").read_bytes())], "classes": classes("person")}
    people = {}
    for detail in ("fast", None):  # None: create_app's default, thorough
        api = make_api() if detail is None else make_api(detail=detail)
        boxes = by_class(detect(api, beach)["imageResults"][0])["person"]["boundingBoxes"]
        people[detail] = len(boxes)
    # 11 people are on the beach (tests/images/scenes/marks.json); measured 5 boxes and 7.
    assert people["fast"] < people[None] <= 11


def test_unsupported_class_is_marked_so_it_is_not_read_as_absent(local_api: ApiLike) -> None:
    job = detect(
        local_api, {"images": [blob(photo("chelsea.png"))], "classes": classes("unicorn", "Cats")}
    )
    assert job["status"] == "COMPLETED_SUCCESSFULLY"
    objects = by_class(job["imageResults"][0])
    assert objects["unicorn"] == {
        "class": "unicorn",
        "confidence": 0,
        "verdict": False,
        "supported": False,
        "boundingBoxes": [],
    }
    assert objects["Cats"]["verdict"] is True
    assert [item["class"] for item in job["jobResults"]] == ["Cats"]


def test_a_non_image_fails_alone_and_the_job_is_partial(local_api: ApiLike) -> None:
    body = {
        "images": [blob(b"%PDF-1.4 not an image"), blob(photo("chelsea.png"))],
        "classes": classes("cat"),
    }
    job = detect(local_api, body)
    assert job["status"] == "COMPLETED_PARTIAL_ERROR"
    broken, cat = job["imageResults"]
    assert broken["status"] == "INVALID_IMAGE_FORMAT_ERROR"
    assert broken["objects"] == []
    assert broken["error"] == "not an image"
    assert cat["status"] == "COMPLETED_SUCCESSFULLY"
    assert "error" not in cat
    assert by_class(cat)["cat"]["verdict"] is True


def test_a_blob_over_max_image_bytes_fails_alone_naming_the_limit(
    make_api: Callable[..., Api],
) -> None:
    api = make_api(max_image_bytes=300_000)
    chelsea, coffee = photo("chelsea.png"), photo("coffee.png")
    assert len(chelsea) <= 300_000 < len(coffee)
    job = detect(api, {"images": [blob(coffee), blob(chelsea)], "classes": classes("cat", "cup")})
    assert job["status"] == "COMPLETED_PARTIAL_ERROR"
    too_big, cat = job["imageResults"]
    assert too_big["status"] == "INVALID_IMAGE_FORMAT_ERROR"
    assert too_big["error"] == "larger than 300000 bytes"
    assert too_big["objects"] == []
    assert by_class(cat)["cat"]["verdict"] is True


def test_a_job_whose_images_all_fail_is_all_error(local_api: ApiLike) -> None:
    job = detect(local_api, {"images": [blob(b""), blob(b"GIF89a")], "classes": classes("cat")})
    assert job["status"] == "COMPLETED_ALL_ERROR"
    assert [image["status"] for image in job["imageResults"]] == [
        "INVALID_IMAGE_FORMAT_ERROR",
        "INVALID_IMAGE_FORMAT_ERROR",
    ]
    assert job["jobResults"] == []


# --- bad requests ----------------------------------------------------------------------------------

GOOD_IMAGE = {"url": "http://127.0.0.1:9/x.png"}
GOOD_CLASSES = [{"class": "cat"}]


def detect_body(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"images": [GOOD_IMAGE], "classes": GOOD_CLASSES}
    body.update(fields)
    return {key: value for key, value in body.items() if value is not ...}


# (body, field named in the error, whether the v2 spec itself rejects the body)
BAD_DETECT_BODIES = {
    "array body": ([GOOD_IMAGE], "body", True),
    "no images": (detect_body(images=...), "images", True),
    "images not an array": (detect_body(images=GOOD_IMAGE), "images", True),
    "no image": (detect_body(images=[]), "images", True),
    "65 images": (detect_body(images=[GOOD_IMAGE] * 65), "images", True),
    "image not an object": (detect_body(images=["http://x/y.png"]), "images[0]", True),
    "image with neither": (detect_body(images=[{"customId": "a"}]), "images[0]", False),
    "image with both": (detect_body(images=[{**GOOD_IMAGE, "blob": ""}]), "images[0]", False),
    "url too long": (
        detect_body(images=[GOOD_IMAGE, {"url": "http://h/" + "x" * 504}]),
        "images[1].url",
        True,
    ),
    "url not a string": (detect_body(images=[{"url": 5}]), "images[0].url", True),
    "blob not base64": (detect_body(images=[{"blob": "not base64!"}]), "images[0].blob", False),
    "blob non-ascii": (detect_body(images=[{"blob": "ü"}]), "images[0].blob", False),
    "image customId too long": (
        detect_body(images=[{**GOOD_IMAGE, "customId": "c" * 65}]),
        "images[0].customId",
        True,
    ),
    "no classes": (detect_body(classes=...), "classes", True),
    "no class": (detect_body(classes=[]), "classes", True),
    "class item not an object": (detect_body(classes=["cat"]), "classes[0]", True),
    "class missing": (detect_body(classes=[{"verify": "NEVER"}]), "classes[0].class", True),
    "class not a string": (detect_body(classes=[{"class": 3}]), "classes[0].class", True),
    "class empty": (detect_body(classes=[{"class": " "}]), "classes[0].class", False),
    "bad verify": (
        detect_body(classes=[{"class": "cat"}, {"class": "dog", "verify": "SOMETIMES"}]),
        "classes[1].verify",
        True,
    ),
    "verify null": (
        detect_body(classes=[{"class": "cat", "verify": None}]),
        "classes[0].verify",
        True,
    ),
    "exclusion zones": (
        detect_body(
            classes=[{"class": "cat", "exclusionZones": {"type": "GRID", "zones": [[1, 0]]}}]
        ),
        "classes[0].exclusionZones",
        False,
    ),
    "webhook": (detect_body(webhookUrl="https://example.com/hook"), "webhookUrl", False),
    "customId too long": (detect_body(customId="c" * 65), "customId", True),
    "feedId not a string": (detect_body(feedId=7), "feedId", True),
}


@pytest.mark.parametrize(
    ("body", "field", "spec_rejects"),
    list(BAD_DETECT_BODIES.values()),
    ids=list(BAD_DETECT_BODIES),
)
def test_bad_detect_bodies_get_400_naming_the_field(
    local_api: ApiLike, body: Any, field: str, spec_rejects: bool
) -> None:
    assert bool(apispec.errors("DetectJobRequest", body)) == spec_rejects
    response = requests.post(
        f"{local_api.base_url}/detect", json=body, headers=bearer(local_api), timeout=10
    )
    assert_error(response, 400, "bad_request", field)
    assert_still_serving(local_api)


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        (
            "/detect",
            detect_body(images=[{"blob": 12345}]),
            "images[0].blob: must be a string, not a number",
        ),
        ("/detect", detect_body(images=[GOOD_IMAGE] * 65), "images: at most 64 items, got 65"),
        ("/detect", detect_body(images=[]), "images: must not be empty"),
        ("/detect", detect_body(customId="c" * 65), "customId: at most 64 characters, got 65"),
        (
            "/detect",
            detect_body(classes=[{"class": "cat", "verify": "SECRET-7f3a"}]),
            "classes[0].verify: must be one of NEVER, AUTO, ALWAYS",
        ),
        ("/detect", detect_body(classes=[{}]), "classes[0].class: required"),
        ("/oauth/token", {"clientId": "SECRET-7f3a"}, "clientSecret: required"),
        (
            "/oauth/token",
            {"clientId": 7, "clientSecret": "x"},
            "clientId: must be a string, not a number",
        ),
    ],
)
def test_the_spec_s_problems_are_said_in_words_without_the_value(
    local_api: ApiLike, path: str, body: Any, message: str
) -> None:
    response = requests.post(
        f"{local_api.base_url}{path}", json=body, headers=bearer(local_api), timeout=10
    )
    assert assert_error(response, 400, "bad_request")["message"] == message
    assert "SECRET-7f3a" not in response.text


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"images=1", id="form data"),
        pytest.param(b"", id="empty"),
        pytest.param(b'{"images": [', id="truncated"),
        pytest.param(b"\xff\xfe\x00{", id="not utf-8"),
        pytest.param(b'{"images": NaN}', id="NaN"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="deeply nested"),
    ],
)
def test_non_json_bodies_get_400(local_api: ApiLike, raw: bytes) -> None:
    response = requests.post(
        f"{local_api.base_url}/detect",
        data=raw,
        headers={**bearer(local_api), "Content-Type": "application/json"},
        timeout=10,
    )
    assert_error(response, 400, "bad_request", "body")
    assert_still_serving(local_api)


@pytest.mark.parametrize(
    ("content_type", "named"),
    [
        ("text/plain", "text/plain"),
        ("application/x-www-form-urlencoded", "application/x-www-form-urlencoded"),
        ("application/jsonx", "application/jsonx"),
        (None, "text/plain"),  # wsgiref's stand-in for a missing Content-Type
    ],
)
def test_bodies_not_sent_as_json_get_415(
    local_api: ApiLike, content_type: str | None, named: str
) -> None:
    body = json.dumps({"images": [GOOD_IMAGE], "classes": GOOD_CLASSES}).encode()
    headers = bearer(local_api)
    if content_type is not None:
        headers["Content-Type"] = content_type
    for path in ("/detect", "/feedback", "/oauth/token"):
        response = requests.post(
            f"{local_api.base_url}{path}", data=body, headers=headers, timeout=10
        )
        error = assert_error(response, 415, "unsupported_media_type")
        assert error["message"] == (
            f"the body must be JSON, sent as application/json; this one came as {named}"
        )
    assert_still_serving(local_api)


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "Application/JSON", "application/json ;x=1"]
)
def test_json_content_types_with_parameters_or_capitals_are_json(
    local_api: ApiLike, content_type: str
) -> None:
    body = {"clientId": local_api.client_id, "clientSecret": local_api.client_secret}
    response = requests.post(
        f"{local_api.base_url}/oauth/token",
        data=json.dumps(body),
        headers={"Content-Type": content_type},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    apispec.validate("AccessTokenResponse", response.json())


def raw_request(api: ApiLike, request: bytes, shut_write: bool = False) -> bytes:
    """Send raw bytes to the API's server and return its whole answer."""
    host, port = api.base_url.removeprefix("http://").split("/")[0].split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(request)
        if shut_write:
            sock.shutdown(socket.SHUT_WR)
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
        return answer


def error_of(answer: bytes) -> tuple[int, dict]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    return status, json.loads(body)["error"]


def test_content_length_problems(local_api: ApiLike) -> None:
    token = bearer(local_api)["Authorization"]
    head = f"POST /v2/detect HTTP/1.1\r\nHost: x\r\nAuthorization: {token}\r\n"

    status, error = error_of(raw_request(local_api, (head + "\r\n").encode()))
    assert (status, error["code"]) == (411, "length_required")

    chunked = head + "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
    status, error = error_of(raw_request(local_api, chunked.encode()))
    assert (status, error["code"]) == (411, "length_required")

    bad = head + "Content-Length: lots\r\n\r\n{}"
    status, error = error_of(raw_request(local_api, bad.encode()))
    assert (status, error["field"]) == (400, "Content-Length")

    short = head + "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{}"
    status, error = error_of(raw_request(local_api, short.encode(), shut_write=True))
    assert (status, error["message"]) == (400, "body: shorter than its Content-Length")
    assert_still_serving(local_api)


def test_bodies_over_the_cap_get_413_without_being_read(make_api: Callable[..., Api]) -> None:
    api = make_api(max_body_bytes=2000)
    headers = bearer(api)
    body = {"images": [blob(b"x" * 3000)], "classes": GOOD_CLASSES}
    apispec.validate("DetectJobRequest", body)
    response = requests.post(f"{api.base_url}/detect", json=body, headers=headers, timeout=10)
    error = assert_error(response, 413, "payload_too_large")
    assert error["message"] == "the body is larger than 2000 bytes"

    # A huge declared length is refused from the headers alone: the answer comes at once, though
    # the body never does (a client waiting for "100 Continue" would behave like this).
    head = (
        f"POST /v2/detect HTTP/1.1\r\nHost: x\r\nAuthorization: {headers['Authorization']}\r\n"
        "Content-Length: 1000000000000\r\nExpect: 100-continue\r\n\r\n"
    )
    status, error = error_of(raw_request(api, head.encode()))
    assert (status, error["code"]) == (413, "payload_too_large")

    token_body = {"clientId": "x" * 3000, "clientSecret": "y"}
    apispec.validate("ClientCredentials", token_body)
    response = requests.post(f"{api.base_url}/oauth/token", json=token_body, timeout=10)
    assert_error(response, 413, "payload_too_large")
    assert_still_serving(api)


def test_unknown_paths_404_and_wrong_methods_405(local_api: ApiLike) -> None:
    headers = bearer(local_api)
    for path in ["/nope", "/v2", "/v2/detect/a/b", "/v1/detect", "/v2/feedback/x"]:
        response = requests.get(f"{local_api.base_url.removesuffix('/v2')}{path}", timeout=10)
        assert_error(response, 404, "not_found")
    cases = [
        ("GET", "/oauth/token", "POST, OPTIONS"),
        ("PUT", "/detect", "GET, POST, OPTIONS"),
        ("DELETE", "/detect/some-id", "GET, OPTIONS"),
        ("POST", "/detect/some-id", "GET, OPTIONS"),
        ("GET", "/feedback", "POST, OPTIONS"),
    ]
    for method, path, allowed in cases:
        response = requests.request(
            method, f"{local_api.base_url}{path}", headers=headers, timeout=10
        )
        error = assert_error(response, 405, "method_not_allowed")
        assert response.headers["Allow"] == allowed
        assert error["message"] == f"{method} is not allowed here; use {allowed}"
        # OPTIONS says what is allowed, to anyone: it is no secret.
        options = requests.options(f"{local_api.base_url}{path}", timeout=10)
        assert options.status_code == 200
        assert options.headers["Allow"] == allowed.removesuffix(", OPTIONS")
    assert_still_serving(local_api)


def test_unknown_job_id_is_404(local_api: ApiLike) -> None:
    response = requests.get(
        f"{local_api.base_url}/detect/0d1c5d1e-0000-4000-8000-000000000000",
        headers=bearer(local_api),
        timeout=10,
    )
    assert_error(response, 404, "not_found", "id")
    assert_still_serving(local_api)


# --- the job store and search ----------------------------------------------------------------------


def test_store_evicts_the_oldest_finished_job_and_refuses_when_all_run(
    make_api: Callable[..., Api],
) -> None:
    api = make_api(max_jobs=2, workers=2, private_urls=True)
    headers = bearer(api)
    host = ImageHost()
    with ServerThread(host) as image_server:
        # Two jobs held in progress by a trickling download fill the store...
        slow = {"images": [{"url": f"{image_server.url}/trickle"}], "classes": GOOD_CLASSES}
        held = [submit(api, slow, headers)["id"] for _ in range(2)]
        quick = {"images": [blob(photo("chelsea.png"))], "classes": GOOD_CLASSES}
        response = requests.post(f"{api.base_url}/detect", json=quick, headers=headers, timeout=10)
        assert_error(response, 503, "busy")
        assert response.headers["Retry-After"] == "1"
        assert [get_job(api, job_id, headers)["status"] for job_id in held] == ["IN_PROGRESS"] * 2
        host.release.set()
        for job_id in held:
            wait_for(api, job_id, headers)

    # ...and once they are done, each new job evicts the oldest finished one.
    third = detect(api, quick)["id"]
    assert (
        requests.get(f"{api.base_url}/detect/{held[0]}", headers=headers, timeout=10).status_code
        == 404
    )
    assert get_job(api, held[1], headers)["id"] == held[1]
    fourth = detect(api, quick)["id"]
    assert (
        requests.get(f"{api.base_url}/detect/{held[1]}", headers=headers, timeout=10).status_code
        == 404
    )
    assert [job["id"] for job in search(api, "", headers)] == [fourth, third]


def test_search_by_custom_id_feed_id_and_time(make_api: Callable[..., Api]) -> None:
    clock = Clock(1_700_000_000.0)
    api = make_api(clock=clock)
    headers = bearer(api)
    image = [blob(photo("chelsea.png"))]
    ids = {}
    for name, custom_id, feed_id in [
        ("a1", "order-a", "cam-1"),
        ("b1", "order-b", "cam-1"),
        ("a2", "order-a", "cam-2"),
        ("none", None, None),
    ]:
        clock.now += 1
        body: dict[str, Any] = {"images": image, "classes": GOOD_CLASSES}
        if custom_id:
            body.update(customId=custom_id, feedId=feed_id)
        ids[name] = submit(api, body, headers)["id"]
    a1_created = 1_700_000_001_000

    def found(query: str) -> list[str]:
        names = {job_id: name for name, job_id in ids.items()}
        return [names[job["id"]] for job in search(api, query, headers)]

    assert found("customId=order-a") == ["a2", "a1"]
    assert found("feedId=cam-1") == ["b1", "a1"]
    assert found("customId=order-a&feedId=cam-1") == ["a1"]
    assert found(f"after={a1_created}") == ["none", "a2", "b1"]
    assert found(f"before={a1_created + 2000}&after={a1_created}") == ["b1"]
    assert found("customId=nobody") == []
    assert found("") == ["none", "a2", "b1", "a1"]
    for job in search(api, "customId=order-a", headers):
        wait_for(api, job["id"], headers)

    for query, field in [("before=soon", "before"), ("after=nan", "after")]:
        response = requests.get(f"{api.base_url}/detect?{query}", headers=headers, timeout=10)
        assert_error(response, 400, "bad_request", field)
    response = requests.get(f"{api.base_url}/detect?feedId=a&feedId=b", headers=headers, timeout=10)
    assert_error(response, 400, "bad_request", "feedId")


# --- feedback ----------------------------------------------------------------------------------


def test_feedback_on_a_job(local_api: ApiLike) -> None:
    headers = bearer(local_api)
    job = submit(local_api, {"images": [blob(photo("chelsea.png"))], "classes": GOOD_CLASSES})
    body = {
        "jobId": job["id"],
        "createdAt": 1_700_000_000_123,
        "classes": [
            {"class": "cat", "code": "FALSE_POSITIVE"},
            {"class": "dog", "code": "FALSE_NEGATIVE"},
        ],
    }
    apispec.validate("FeedbackRequest", body)
    response = requests.post(
        f"{local_api.base_url}/feedback", json=body, headers=headers, timeout=10
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    apispec.validate("FeedbackResponse", answer)
    assert {k: v for k, v in answer.items() if k != "id"} == body

    unknown = {**body, "jobId": "no-such-job"}
    apispec.validate("FeedbackRequest", unknown)
    response = requests.post(
        f"{local_api.base_url}/feedback", json=unknown, headers=headers, timeout=10
    )
    assert_error(response, 404, "not_found", "jobId")

    bad_bodies = [
        ({**body, "classes": [{"class": "cat", "code": "MAYBE"}]}, "classes[0].code"),
        ({**body, "classes": []}, "classes"),
        ({k: v for k, v in body.items() if k != "createdAt"}, "createdAt"),
        ({**body, "createdAt": "yesterday"}, "createdAt"),
        ({**body, "createdAt": 1.5}, "createdAt"),
        ({**body, "jobId": None}, "jobId"),
    ]
    for bad, field in bad_bodies:
        assert apispec.errors("FeedbackRequest", bad)
        response = requests.post(
            f"{local_api.base_url}/feedback", json=bad, headers=headers, timeout=10
        )
        assert_error(response, 400, "bad_request", field)

    response = requests.post(f"{local_api.base_url}/feedback", json=body, timeout=10)
    assert_error(response, 401, "unauthorized")
    assert_still_serving(local_api)


# --- secrets, shutdown, start_local_api -----------------------------------------------------------


def test_secrets_tokens_and_blobs_stay_out_of_logs_and_reprs(
    make_api: Callable[..., Api], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    api = make_api()
    token = new_token(api)["accessToken"]
    marker = b"SECRET-PIXELS-" * 10
    detect(api, {"images": [blob(marker)], "classes": GOOD_CLASSES})
    forged = {"Authorization": f"Bearer {token}x"}
    assert requests.get(f"{api.base_url}/detect", headers=forged, timeout=10).status_code == 401
    wrong = {"clientId": api.client_id, "clientSecret": token}
    apispec.validate("ClientCredentials", wrong)
    assert requests.post(f"{api.base_url}/oauth/token", json=wrong, timeout=10).status_code == 401

    assert "POST /v2/detect -> 200" in caplog.text  # the request log is there, at DEBUG
    for secret in (api.client_secret, token, base64.b64encode(marker).decode(), "SECRET-PIXELS"):
        assert secret not in caplog.text
    app = create_app("id", "the-secret")
    try:
        assert "the-secret" not in repr(app)
    finally:
        app.close()


def test_after_close_new_jobs_get_503_and_the_server_still_answers() -> None:
    client_id, client_secret = generate_credentials()
    app = create_app(client_id, client_secret)
    with ServerThread(app) as server:
        api = Api(f"{server.url}/v2", client_id, client_secret)
        headers = bearer(api)
        app.close()
        body = {"images": [blob(photo("chelsea.png"))], "classes": GOOD_CLASSES}
        response = requests.post(f"{api.base_url}/detect", json=body, headers=headers, timeout=10)
        assert_error(response, 503, "unavailable")
        assert search(api, "", headers) == []


def test_start_local_api_generates_credentials_and_stops() -> None:
    api = start_local_api(workers=1)
    try:
        assert api.base_url.startswith("http://127.0.0.1:") and api.base_url.endswith("/v2")
        assert api.client_id and len(api.client_secret) >= 32
        assert api.client_secret not in repr(api)
        assert new_token(api)["accessToken"]
        other = start_local_api("given-id", "given-secret")
        try:
            assert (other.client_id, other.client_secret) == ("given-id", "given-secret")
            assert other.base_url != api.base_url
            assert new_token(other)["accessToken"]
        finally:
            other.stop()
    finally:
        api.stop()
    with pytest.raises(requests.ConnectionError):
        requests.post(f"{api.base_url}/oauth/token", json={}, timeout=5)


SERVE_CHILD = (
    "import sys; from bot.localapi.service import serve; "
    "serve('127.0.0.1', int(sys.argv[1]), allowed_private_hosts=['127.0.0.1'])"
)


def test_serve_runs_the_api_under_gunicorn_and_prints_generated_credentials() -> None:
    port = free_port()
    child = subprocess.Popen(
        [sys.executable, "-c", SERVE_CHILD, str(port)],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        printed = dict(child.stdout.readline().strip().split("=", 1) for _ in range(3))
        assert printed["II_API_URL"] == f"http://127.0.0.1:{port}/v2"
        api = Api(printed["II_API_URL"], printed["II_CLIENT_ID"], printed["II_CLIENT_SECRET"])
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except ConnectionRefusedError:
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.02)
        # The detector loads in gunicorn's forked worker, where it must work; the allowed private
        # host reaches it too.
        with ServerThread(ImageHost()) as image_server:
            images = [blob(photo("chelsea.png")), {"url": f"{image_server.url}/chelsea.png"}]
            job = detect(api, {"images": images, "classes": GOOD_CLASSES})
        assert [by_class(image)["cat"]["verdict"] for image in job["imageResults"]] == [True, True]
        # gunicorn leaves a missing Content-Type out of the environ; it is still not JSON.
        response = requests.post(f"{api.base_url}/oauth/token", data=b"{}", timeout=10)
        error = assert_error(response, 415, "unsupported_media_type")
        assert error["message"].endswith("this one came with no Content-Type")
        child.send_signal(signal.SIGTERM)
        _, stderr = child.communicate(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode == 0, stderr
    assert printed["II_CLIENT_SECRET"] not in stderr
