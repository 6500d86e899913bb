"""The client against the real embedded API on loopback: detection, polls, feedback, tokens, secrets."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from bot.imageintelligence.client import ImageIntelligenceClient, blob_image, url_image
from bot.imageintelligence.contract import (
    FALSE_NEGATIVE,
    FALSE_POSITIVE,
    IMAGE_STATUSES,
    JOB_STATUSES,
    MAX_IMAGES_PER_JOB,
    MAX_URL_LENGTH,
    VERIFY_MODES,
)
from bot.imageintelligence.errors import ApiError, AuthenticationError, InvalidClientCredentials
from bot.imageintelligence.models import DetectJob, ImageResult
from tests.support import apispec
from tests.support.faultserver import CLIENT_ID, CLIENT_SECRET, FaultyApi, free_port
from tests.support.photos import photo

NOWHERE = f"http://127.0.0.1:{free_port()}/a.jpg"  # nothing listens: a fetch fails at once


def make_client(api: FaultyApi, **kw: Any) -> ImageIntelligenceClient:
    kw.setdefault("read_timeout", 5.0)
    return ImageIntelligenceClient(CLIENT_ID, CLIENT_SECRET, api.base_url, **kw)


def test_detect_finds_the_cat_in_chelsea(api: FaultyApi) -> None:
    with make_client(api) as client:
        job = client.detect(
            [blob_image(photo("chelsea.png"), custom_id="chelsea")],
            ["cat", "dog", "person"],
            feed_id="T0TEAM0001",
        )
        assert job.feed_id == "T0TEAM0001"
        done = client.wait_for_job(job, timeout=30)
    assert done.finished and done.status == "COMPLETED_SUCCESSFULLY"
    (image,) = done.images
    assert image.ok and image.custom_id == "chelsea"
    found = {o.class_name: o for o in image.found}
    assert "cat" in found and "dog" not in found and "person" not in found
    cat = found["cat"]
    assert cat.supported and cat.confidence > 0.5 and cat.boxes
    box = cat.boxes[0]
    assert 0 <= box.x_min < box.x_max and 0 <= box.y_min < box.y_max
    assert box.confidence is not None and box.confidence > 0.5
    (sent,) = api.bodies("POST /detect")
    apispec.validate("DetectJobRequest", sent)
    assert sent["classes"] == [
        {"class": "cat", "verify": "NEVER"},
        {"class": "dog", "verify": "NEVER"},
        {"class": "person", "verify": "NEVER"},
    ]
    assert sent["feedId"] == "T0TEAM0001"
    assert set(sent) == {"images", "classes", "feedId"}


def test_unsupported_classes_say_so(api: FaultyApi) -> None:
    with make_client(api) as client:
        job = client.detect([blob_image(photo("chelsea.png"))], ["unicorn"])
        (image,) = client.wait_for_job(job, timeout=30).images
    (unicorn,) = image.objects
    assert unicorn.class_name == "unicorn"
    assert unicorn.supported is False and unicorn.verdict is False


def test_a_failed_image_says_why_and_the_others_have_no_error(api: FaultyApi) -> None:
    chelsea = blob_image(photo("chelsea.png"), custom_id="chelsea")
    with make_client(api) as client:
        job = client.detect([url_image(NOWHERE, custom_id="nowhere"), chelsea], ["cat"])
        done = client.wait_for_job(job, timeout=30)
    assert done.status == "COMPLETED_PARTIAL_ERROR"
    nowhere, cat = done.images
    assert (nowhere.custom_id, nowhere.ok, nowhere.status) == (
        "nowhere",
        False,
        "IMAGE_DOWNLOAD_ERROR",
    )
    assert nowhere.error == "no image could be fetched from this link"
    assert (cat.ok, cat.error) == (True, None)


def test_get_and_feedback(api: FaultyApi) -> None:
    with make_client(api) as client:
        job = client.detect([blob_image(photo("coffee.png"))], ["coffee cup"])
        assert set(api.bodies("POST /detect")[0]) == {"images", "classes"}  # no feedId
        assert client.get_detect_job(job.id).id == job.id
        before = int(time.time() * 1000)
        answer = client.send_feedback(job.id, [("coffee cup", "FALSE_NEGATIVE")])
        after = int(time.time() * 1000)
    assert answer["jobId"] == job.id
    apispec.validate("FeedbackResponse", answer)
    (sent,) = api.bodies("POST /feedback")
    assert sent["classes"] == [{"class": "coffee cup", "code": "FALSE_NEGATIVE"}]
    assert before <= sent["createdAt"] <= after


def test_unknown_job_is_a_404_api_error_without_retries(api: FaultyApi) -> None:
    with make_client(api) as client, pytest.raises(ApiError) as err:
        client.get_detect_job("no-such-job")
    assert (err.value.status, err.value.retryable, err.value.attempts) == (404, False, 1)
    assert (err.value.method, err.value.path) == ("GET", "/detect/no-such-job")
    assert api.count("GET /detect/{id}") == 1


def test_the_token_is_fetched_once_and_reused(api: FaultyApi) -> None:
    with make_client(api) as client:
        token = client.access_token()
        assert client.access_token() == token
        job = client.detect([blob_image(photo("coffee.png"))], ["cat"])
        client.get_detect_job(job.id)
        client.get_detect_job(job.id)
    assert api.issued_tokens == [token]
    used = {r.authorization for r in api.requests if r.route != "POST /oauth/token"}
    assert used == {f"Bearer {token}"} and api.count("GET /detect/{id}") == 2
    (credentials,) = api.bodies("POST /oauth/token")
    apispec.validate("ClientCredentials", credentials)


def assert_unknown_job(client: ImageIntelligenceClient) -> None:
    """An authorized call that reaches the API: 404 for a job nobody made."""
    with pytest.raises(ApiError) as err:
        client.get_detect_job("no-such-job")
    assert err.value.status == 404


def run_threads(n: int, target: Callable[[], None]) -> None:
    threads = [threading.Thread(target=target) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
        assert not t.is_alive()


def test_fifty_threads_cause_exactly_one_token_request(api: FaultyApi) -> None:
    api.delay("POST /oauth/token", 0.05)  # a slow token endpoint, so the threads pile up
    tokens: list[str] = []
    barrier = threading.Barrier(50)
    with make_client(api) as client:

        def work() -> None:
            barrier.wait()
            tokens.append(client.access_token())

        run_threads(50, work)
        assert_unknown_job(client)
    assert tokens == api.issued_tokens * 50
    assert api.count("POST /oauth/token") == 1


def test_a_failed_token_fetch_reaches_every_waiter_and_the_next_call_retries(
    api: FaultyApi,
) -> None:
    with make_client(api, pool_size=50) as client:
        tokens = client._tokens
        release = threading.Event()

        def failing(_env: Any) -> tuple[int, list[tuple[str, str]], bytes]:
            # Hold the only fetch until the 49 other threads wait for it (Condition's waiter
            # list makes that deterministic), then fail it with a status that is not retried.
            deadline = time.monotonic() + 5
            while len(tokens._cond._waiters) < 49 and time.monotonic() < deadline:  # type: ignore[attr-defined]
                time.sleep(0.001)
            release.set()
            return 500, [("Content-Type", "application/json")], b'{"error": "down"}'

        api.add("POST /oauth/token", failing)
        errors: list[BaseException] = []

        def work() -> None:
            try:
                client.get_detect_job("no-such-job")
            except AuthenticationError as exc:
                errors.append(exc)

        run_threads(50, work)
        assert release.is_set()
        assert len(errors) == 50 and all(e.status == 500 for e in errors)  # type: ignore[attr-defined]
        assert api.count("POST /oauth/token") == 1 and api.count("GET /detect/{id}") == 0
        assert_unknown_job(client)
    assert api.count("POST /oauth/token") == 2


def no_sleep(seconds: float) -> None:
    raise AssertionError(f"unexpected retry (back-off {seconds} s)")


def test_wrong_credentials_raise_invalid_client_credentials_once(api: FaultyApi) -> None:
    wrong = "wrong-SECRET-9f8e7d"
    client = ImageIntelligenceClient(CLIENT_ID, wrong, api.base_url, sleep=no_sleep)
    with client, pytest.raises(InvalidClientCredentials) as err:
        client.detect([url_image(NOWHERE)], ["cat"])
    assert err.value.status == 401 and not err.value.retryable
    assert wrong not in str(err.value) and wrong not in repr(err.value)
    assert api.count("POST /oauth/token") == 1 and api.count("POST /detect") == 0


def test_a_finished_job_is_returned_without_polling(api: FaultyApi) -> None:
    with make_client(api) as client:
        job = client.wait_for_job(client.detect([blob_image(photo("coffee.png"))], ["cat"]), 30)
        polls = api.count("GET /detect/{id}")
        assert client.wait_for_job(job, timeout=0) is job
        assert client.wait_for_job(job.id, timeout=5).status == job.status
    assert api.count("GET /detect/{id}") == polls + 1  # a bare id costs one immediate poll


def test_no_secret_or_token_in_logs_errors_or_reprs(
    api: FaultyApi, caplog: pytest.LogCaptureFixture
) -> None:
    """Drive the client through its error paths, with a server that echoes secrets back."""
    caplog.set_level(logging.DEBUG)

    def echo(env: Any) -> tuple[int, list[tuple[str, str]], bytes]:
        # A badly behaved server repeating the request's credentials in its error text.
        text = f"denied {env.get('HTTP_AUTHORIZATION')} {CLIENT_SECRET} {env['wsgi.input'].read()}"
        return 502, [("Content-Type", "text/plain")], text.encode()

    api.add("POST /oauth/token", echo, times=3)  # the credentials, echoed on every try
    leaked = "tok-LEAK-5e6f7a"
    api.respond("POST /oauth/token", 200, {"accessToken": leaked, "issuedAt": "x"})
    api.add("GET /detect/{id}", echo, times=None)  # the bearer token, echoed
    api.respond("POST /detect", 500, {"detail": f"secret was {CLIENT_SECRET}"})
    texts: list[str] = []
    with make_client(api, sleep=lambda _s: None) as client:
        texts.append(repr(client))
        for call, error in (
            (client.access_token, AuthenticationError),  # 502 x 3 from the token endpoint
            (client.access_token, AuthenticationError),  # a malformed token answer
            (lambda: client.get_detect_job("job-1"), ApiError),
            (lambda: client.detect([url_image(NOWHERE)], ["cat"]), ApiError),
        ):
            with pytest.raises(error) as err:
                call()
            texts += [str(err.value), repr(err.value), getattr(err.value, "body", "")]
        texts.append(repr(client._tokens.get()))
    assert "[redacted]" in " ".join(texts)
    secrets = [CLIENT_SECRET, leaked, *api.issued_tokens]
    assert len(secrets) == 3
    for secret in secrets:
        assert secret not in caplog.text
        for text in texts:
            assert secret not in text
    assert any(r.levelno == logging.WARNING for r in caplog.records)  # the retries were logged


def test_the_contracts_constants_are_the_specs() -> None:
    request = apispec.definition("DetectJobRequest")["properties"]
    assert request["images"]["maxItems"] == MAX_IMAGES_PER_JOB
    assert apispec.definition("ImageRequestItem")["properties"]["url"]["maxLength"] == (
        MAX_URL_LENGTH
    )
    assert tuple(request["classes"]["items"]["properties"]["verify"]["enum"]) == VERIFY_MODES
    assert set(apispec.definition("JobStatus")["enum"]) == set(JOB_STATUSES)
    assert set(apispec.definition("ImageStatus")["enum"]) == set(IMAGE_STATUSES)
    codes = apispec.definition("FeedbackRequestClassItem")["properties"]["code"]["enum"]
    assert tuple(codes) == (FALSE_POSITIVE, FALSE_NEGATIVE)


def test_jobs_parse_leniently_but_not_blindly() -> None:
    minimal = DetectJob.from_json({"id": "j", "createdAt": 1, "status": "IN_PROGRESS"})
    assert (minimal.images, minimal.custom_id, minimal.finished) == ((), None, False)
    job = DetectJob.from_json(
        {
            "id": "j",
            "createdAt": 1,
            "status": "COMPLETED_SUCCESSFULLY",
            "jobResults": [],
            "imageResults": [
                {
                    "id": "i",
                    "url": "https://x/y.jpg",
                    "status": "COMPLETED_SUCCESSFULLY",
                    "objects": [{"class": "car", "confidence": 0.9, "verdict": True}],
                }
            ],
        }
    )
    (car,) = job.images[0].objects
    assert (car.supported, car.boxes, car.verdict) == (True, (), True)
    assert job.images[0].error is None
    failed = {"id": "i", "status": "IMAGE_DOWNLOAD_ERROR", "error": "the image server answered 404"}
    assert ImageResult.from_json(failed).error == "the image server answered 404"
    assert ImageResult.from_json({**failed, "error": {"code": 7}}).error is None
    bad: Any
    for bad in (
        [],
        {"id": "j"},
        {"id": 3, "status": "X"},
        {"id": "j", "status": "X", "imageResults": {}},
    ):
        with pytest.raises(ValueError):
            DetectJob.from_json(bad)
