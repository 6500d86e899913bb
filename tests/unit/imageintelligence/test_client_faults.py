"""The client against a fault-injecting server built on the embedded API.

Time is a fake (`FakeTime`): back-off sleeps and polling are recorded, not slept. Every request
body the client sent is checked against the v2 spec when each test ends (see faulty_api).
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.httpserver import ServerThread
from bot.imageintelligence.client import (
    FAST_POLL_INTERVAL,
    MAX_POLL_INTERVAL,
    ImageIntelligenceClient,
    blob_image,
    url_image,
)
from bot.imageintelligence.contract import FALSE_POSITIVE, MAX_IMAGES_PER_JOB, MAX_URL_LENGTH
from bot.imageintelligence.errors import ApiError, AuthenticationError, JobTimeout
from bot.imageintelligence.models import DetectJob
from tests.support import apispec
from tests.support.faultserver import (
    CLIENT_ID,
    CLIENT_SECRET,
    PREFIX,
    FaultyApi,
    free_port,
)
from tests.support.localapi_client import Api, bearer, search
from tests.support.photos import photo

PNG = photo("coffee.png")
# URLs the embedded API may try to fetch: nothing listens there, so it fails at once, offline.
NOWHERE = f"http://127.0.0.1:{free_port()}/"
URL = url_image(NOWHERE + "a.jpg")


class FakeTime:
    """A monotonic clock that only moves when the client sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


def make_client(api: FaultyApi, fake_time: FakeTime, **kw: Any) -> ImageIntelligenceClient:
    kw.setdefault("read_timeout", 2.0)
    return ImageIntelligenceClient(
        CLIENT_ID, CLIENT_SECRET, api.base_url, clock=fake_time.clock, sleep=fake_time.sleep, **kw
    )


def job_id(api: FaultyApi) -> str:
    """A real finished job on the server, made without the client under test."""
    with ImageIntelligenceClient(CLIENT_ID, CLIENT_SECRET, api.base_url) as other:
        job = other.wait_for_job(other.detect([blob_image(PNG)], ["cat"]), 30)
    api.forget()
    return job.id


def jobs_on_the_server(api: FaultyApi) -> list[str]:
    """The ids of the jobs the embedded API behind `api` holds, asked past the client under test
    (so ask last: these requests are counted too)."""
    server = Api(api.base_url, CLIENT_ID, CLIENT_SECRET)
    return [job["id"] for job in search(server, "", bearer(server))]


# -- 401s --------------------------------------------------------------------------------------


def test_a_revoked_token_is_replaced_and_the_call_retried_once(
    api: FaultyApi, fake_time: FakeTime
) -> None:
    jid = job_id(api)
    with make_client(api, fake_time) as client:
        first = client.access_token()
        api.revoke(first)
        assert client.get_detect_job(jid).id == jid
        second = client.access_token()
    assert second != first and api.issued_tokens == [first, second]
    assert [r.authorization for r in api.requests if r.route == "GET /detect/{id}"] == [
        f"Bearer {first}",
        f"Bearer {second}",
    ]
    assert fake_time.sleeps == []


def test_401_after_n_calls_refreshes_once(api: FaultyApi, fake_time: FakeTime) -> None:
    jid = job_id(api)
    api.respond("GET /detect/{id}", 401, {"error": "expired"}, after=3)
    with make_client(api, fake_time) as client:
        for _ in range(5):
            assert client.get_detect_job(jid).id == jid
    assert api.count("POST /oauth/token") == 2 and api.count("GET /detect/{id}") == 6


def test_a_second_401_raises(api: FaultyApi, fake_time: FakeTime) -> None:
    api.respond("GET /detect/{id}", 401, {"error": "no"}, times=2)
    with make_client(api, fake_time) as client, pytest.raises(AuthenticationError) as err:
        client.get_detect_job("j1")
    assert err.value.status == 401 and not err.value.retryable
    assert api.count("POST /oauth/token") == 2 and api.count("GET /detect/{id}") == 2


def test_a_401_on_detect_is_retried_once_and_creates_one_job(
    api: FaultyApi, fake_time: FakeTime
) -> None:
    with make_client(api, fake_time) as client:
        api.revoke(client.access_token())
        job = client.detect([blob_image(PNG)], ["cat"])
    assert api.count("POST /detect") == 2 and api.count("POST /oauth/token") == 2
    assert jobs_on_the_server(api) == [job.id]


# -- retries and back-off ----------------------------------------------------------------------


@pytest.mark.parametrize("status", [502, 503, 504])
def test_get_retries_transient_statuses_with_jittered_backoff(
    api: FaultyApi, fake_time: FakeTime, status: int
) -> None:
    jid = job_id(api)
    api.respond("GET /detect/{id}", status, {"error": "busy"}, times=2)
    with make_client(api, fake_time) as client:
        assert client.get_detect_job(jid).id == jid
    assert api.count("GET /detect/{id}") == 3
    first, second = fake_time.sleeps
    assert 0 <= first <= 0.5 and 0 <= second <= 1.0


def test_get_gives_up_after_three_tries(api: FaultyApi, fake_time: FakeTime) -> None:
    api.respond("GET /detect/{id}", 503, {"error": "busy"}, times=None)
    with make_client(api, fake_time) as client, pytest.raises(ApiError) as err:
        client.get_detect_job("j1")
    e = err.value
    assert (e.status, e.retryable, e.attempts, e.method, e.path) == (
        503,
        True,
        3,
        "GET",
        "/detect/j1",
    )
    assert '"busy"' in e.body and "after 3 tries" in str(e)
    assert api.count("GET /detect/{id}") == 3 and len(fake_time.sleeps) == 2


def test_max_tries_is_configurable(api: FaultyApi, fake_time: FakeTime) -> None:
    api.respond("GET /detect/{id}", 503, times=None)
    with make_client(api, fake_time, max_tries=1) as client, pytest.raises(ApiError):
        client.get_detect_job("j1")
    assert api.count("GET /detect/{id}") == 1 and fake_time.sleeps == []


def test_500_is_not_retried(api: FaultyApi, fake_time: FakeTime) -> None:
    api.respond("GET /detect/{id}", 500, {"error": "bug"}, times=None)
    with make_client(api, fake_time) as client, pytest.raises(ApiError) as err:
        client.get_detect_job("j1")
    assert (err.value.status, err.value.retryable, err.value.attempts) == (500, False, 1)
    assert fake_time.sleeps == []


def test_retry_after_is_honoured(api: FaultyApi, fake_time: FakeTime) -> None:
    jid = job_id(api)
    api.respond("GET /detect/{id}", 429, {"error": "slow down"}, [("Retry-After", "2")])
    api.respond("GET /detect/{id}", 503, {"error": "busy"}, [("Retry-After", "0.25")])
    with make_client(api, fake_time) as client:
        assert client.get_detect_job(jid).id == jid
    assert fake_time.sleeps == [2.0, 0.25]


def test_a_long_retry_after_is_an_error_not_a_blocked_thread(
    api: FaultyApi, fake_time: FakeTime
) -> None:
    api.respond("GET /detect/{id}", 429, {"error": "quota"}, [("Retry-After", "3600")])
    with make_client(api, fake_time) as client, pytest.raises(ApiError) as err:
        client.get_detect_job("j1")
    assert (err.value.status, err.value.retryable, err.value.attempts) == (429, True, 1)
    assert fake_time.sleeps == []


def test_the_token_endpoint_is_retried_too(api: FaultyApi, fake_time: FakeTime) -> None:
    api.respond("POST /oauth/token", 503, {"error": "busy"}, [("Retry-After", "1")])
    with make_client(api, fake_time) as client:
        assert client.access_token() == api.issued_tokens[0]
    assert api.count("POST /oauth/token") == 2 and fake_time.sleeps == [1.0]


def test_a_token_endpoint_that_keeps_failing_is_an_authentication_error(
    api: FaultyApi, fake_time: FakeTime
) -> None:
    jid = job_id(api)
    api.respond("POST /oauth/token", 502, {"error": "gateway"}, times=3)
    with make_client(api, fake_time) as client:
        with pytest.raises(AuthenticationError) as err:
            client.get_detect_job(jid)
        assert (err.value.status, err.value.retryable) == (502, True)
        assert api.count("GET /detect/{id}") == 0
        assert client.get_detect_job(jid).id == jid  # the failure was not cached


def test_an_unreachable_api_is_an_authentication_error_after_three_tries(
    fake_time: FakeTime,
) -> None:
    base_url = f"http://127.0.0.1:{free_port()}{PREFIX}"
    client = ImageIntelligenceClient(
        CLIENT_ID, CLIENT_SECRET, base_url, clock=fake_time.clock, sleep=fake_time.sleep
    )
    with client, pytest.raises(AuthenticationError) as err:
        client.access_token()
    assert err.value.status is None and err.value.retryable
    assert "ConnectionError" in str(err.value) and len(fake_time.sleeps) == 2


# -- timeouts and dropped connections ------------------------------------------------------------


def test_a_read_timeout_on_get_is_retried(api: FaultyApi, fake_time: FakeTime) -> None:
    jid = job_id(api)
    api.delay("GET /detect/{id}", 0.3)
    with make_client(api, fake_time, read_timeout=0.05) as client:
        assert client.get_detect_job(jid).id == jid
    assert api.count("GET /detect/{id}") == 2 and len(fake_time.sleeps) == 1


def test_read_timeouts_end_in_an_api_error_without_status(
    api: FaultyApi, fake_time: FakeTime
) -> None:
    api.delay("GET /detect/{id}", 0.2, times=None)
    with make_client(api, fake_time, read_timeout=0.05) as client:
        client.access_token()
        with pytest.raises(ApiError) as err:
            client.get_detect_job("j1")
    assert (err.value.status, err.value.retryable, err.value.attempts) == (None, True, 3)
    assert "ReadTimeout" in str(err.value)


def test_a_dropped_connection_on_get_is_retried(api: FaultyApi, fake_time: FakeTime) -> None:
    jid = job_id(api)
    api.drop("GET /detect/{id}")
    with make_client(api, fake_time) as client:
        assert client.get_detect_job(jid).id == jid
    assert api.count("GET /detect/{id}") == 2 and len(fake_time.sleeps) == 1


# -- the POST /detect retry policy ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "headers", "sleeps"),
    [(503, [], None), (429, [("Retry-After", "1")], [1.0])],
)
def test_detect_is_retried_on_answers_that_did_no_work(
    api: FaultyApi,
    fake_time: FakeTime,
    status: int,
    headers: list[tuple[str, str]],
    sleeps: list[float] | None,
) -> None:
    api.respond("POST /detect", status, {"error": "busy"}, headers)
    with make_client(api, fake_time) as client:
        job = client.detect([blob_image(PNG)], ["cat"])
    assert api.count("POST /detect") == 2
    assert len(fake_time.sleeps) == 1 and (sleeps is None or fake_time.sleeps == sleeps)
    assert jobs_on_the_server(api) == [job.id]


@pytest.mark.parametrize("status", [500, 502, 504])
def test_detect_is_not_retried_when_the_job_may_exist(
    api: FaultyApi, fake_time: FakeTime, status: int
) -> None:
    api.respond("POST /detect", status, {"error": "upstream"})
    with make_client(api, fake_time) as client, pytest.raises(ApiError) as err:
        client.detect([URL], ["cat"])
    assert (err.value.status, err.value.attempts, err.value.method) == (status, 1, "POST")
    assert err.value.retryable is (status != 500)
    assert api.count("POST /detect") == 1 and fake_time.sleeps == []


def test_detect_is_not_retried_after_a_read_timeout(api: FaultyApi, fake_time: FakeTime) -> None:
    api.delay("POST /detect", 0.2)
    with make_client(api, fake_time, read_timeout=0.05) as client:
        client.access_token()
        with pytest.raises(ApiError) as err:
            client.detect([blob_image(PNG)], ["cat"])
    assert (err.value.status, err.value.retryable, err.value.attempts) == (None, True, 1)
    assert api.count("POST /detect") == 1 and fake_time.sleeps == []


def test_detect_is_not_retried_after_a_dropped_connection(
    api: FaultyApi, fake_time: FakeTime
) -> None:
    api.drop("POST /detect")
    with make_client(api, fake_time) as client:
        client.access_token()
        with pytest.raises(ApiError) as err:
            client.detect([URL], ["cat"])
    assert (err.value.status, err.value.retryable, err.value.attempts) == (None, True, 1)
    assert api.count("POST /detect") == 1 and fake_time.sleeps == []


def test_detect_is_retried_when_the_connection_was_refused(
    api: FaultyApi, fake_time: FakeTime
) -> None:
    """Refused: nothing was sent. The server comes back on the same port during the back-off."""
    port = free_port()
    later = ServerThread(api, port=port)
    moments: list[float] = []

    def sleep(seconds: float) -> None:
        moments.append(seconds)
        later.start()

    with ServerThread(api, port=port) as first:
        client = ImageIntelligenceClient(
            CLIENT_ID, CLIENT_SECRET, f"{first.url}{PREFIX}", sleep=sleep
        )
        client.access_token()
    try:
        with client:
            job = client.detect([blob_image(PNG)], ["cat"])
        assert job.id and len(moments) == 1
        assert api.count("POST /detect") == 1  # the refused try never reached the server
    finally:
        later.stop()


# -- malformed answers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"id": "j1", "status": ', "not JSON"),
        (b"[]", "not an object"),
        (b'{"id": "j1"}', "status is missing"),
        (b'{"id": "j1", "status": "IN_PROGRESS", "imageResults": [{"id": 1}]}', "imageResults"),
    ],
)
def test_a_malformed_answer_is_an_api_error(
    api: FaultyApi, fake_time: FakeTime, body: bytes, reason: str
) -> None:
    api.respond("GET /detect/{id}", 200, body)
    with make_client(api, fake_time) as client, pytest.raises(ApiError, match=reason) as err:
        client.get_detect_job("j1")
    assert (err.value.status, err.value.retryable) == (200, False)
    assert err.value.body == body.decode()


def test_a_malformed_feedback_answer_is_an_api_error(api: FaultyApi, fake_time: FakeTime) -> None:
    api.respond("POST /feedback", 200, b"[]")
    with make_client(api, fake_time) as client, pytest.raises(ApiError, match="feedback object"):
        client.send_feedback("j1", [("cat", FALSE_POSITIVE)])


def test_a_malformed_token_answer_is_an_authentication_error(
    api: FaultyApi, fake_time: FakeTime
) -> None:
    api.respond("POST /oauth/token", 200, b"<html>maintenance</html>")
    with make_client(api, fake_time) as client, pytest.raises(AuthenticationError) as err:
        client.access_token()
    assert err.value.status == 200 and "malformed" in str(err.value)


# -- waiting for jobs ---------------------------------------------------------------------------


def in_progress(job_id: str) -> DetectJob:
    return DetectJob.from_json({"id": job_id, "createdAt": 0, "status": "IN_PROGRESS"})


def test_wait_for_job_polls_fast_then_backs_off_and_times_out_at_the_deadline(
    api: FaultyApi, fake_time: FakeTime
) -> None:
    jid = job_id(api)
    api.hold_jobs()
    with make_client(api, fake_time) as client, pytest.raises(JobTimeout) as err:
        client.wait_for_job(in_progress(jid), timeout=10)
    assert (err.value.job_id, err.value.timeout) == (jid, 10)
    expected = [
        *(0.05, 0.05, 0.1),  # the first polls ramp up
        *[0.15] * 19,  # every 150 ms while the job is younger than 3 s (3.05 s by then)
        # then a tenth of its age, each gap 1.1 times the last
        *(0.305, 0.3355, 0.369, 0.406, 0.4466, 0.4912, 0.5403, 0.5944, 0.6538, 0.7192, 0.7911),
        0.8702,
        0.4278,  # the last sleep ends at the deadline, 10 s, not past it
    ]
    assert fake_time.sleeps == pytest.approx(expected, abs=1e-3)
    # Every 150 ms while the job is young, then further apart; never over the cap.
    assert fake_time.sleeps[:8].count(FAST_POLL_INTERVAL) >= 4
    assert 0.5 < max(fake_time.sleeps) <= MAX_POLL_INTERVAL
    assert api.count("GET /detect/{id}") < 40  # 10 s of polling, not 67 polls at 150 ms
    assert api.count("GET /detect/{id}") == len(expected)


def test_wait_for_job_returns_at_the_first_poll_that_sees_the_job_done(
    api: FaultyApi, fake_time: FakeTime
) -> None:
    jid = job_id(api)
    api.hold_jobs(polls=3)
    with make_client(api, fake_time) as client:
        done = client.wait_for_job(in_progress(jid), timeout=30)
    assert done.finished and done.images[0].ok
    assert api.count("GET /detect/{id}") == 4
    assert fake_time.sleeps == pytest.approx([0.05, 0.05, 0.1, 0.15])


def test_wait_for_a_bare_job_id_polls_at_once(api: FaultyApi, fake_time: FakeTime) -> None:
    jid = job_id(api)
    with make_client(api, fake_time) as client:
        done = client.wait_for_job(jid, timeout=5)
    assert isinstance(done, DetectJob) and done.finished
    assert fake_time.sleeps == [] and api.count("GET /detect/{id}") == 1


def test_a_zero_timeout_on_a_running_job_raises_without_polling(
    api: FaultyApi, fake_time: FakeTime
) -> None:
    with make_client(api, fake_time) as client, pytest.raises(JobTimeout):
        client.wait_for_job(in_progress("j9"), timeout=0)
    assert api.total_calls() == 0


# -- what the API refuses ------------------------------------------------------------------------

BLOB_NOT_BASE64 = {"blob": "not base64!"}


def refused_on_purpose(api: FaultyApi, route: str, definition: str, spec_rejects: bool) -> None:
    """The one body sent to `route` breaks the spec (or only the embedded API's own rules);
    it is then forgotten, so that the end-of-test check against the spec passes over it."""
    (sent,) = api.bodies(route)
    assert bool(apispec.errors(definition, sent)) == spec_rejects
    api.forget()


# (images, classes, options, the field named, whether the v2 spec itself rejects the body)
REFUSED_DETECT_JOBS = {
    "65 images": ([URL] * 65, ["cat"], {}, "images", True),
    "url too long": ([url_image("https://e.com/" + "a" * 500)], ["cat"], {}, "images[0].url", True),
    "image customId too long": (
        [url_image("https://e.com/a.jpg", custom_id="x" * 65)],
        ["cat"],
        {},
        "images[0].customId",
        True,
    ),
    "blob not base64": ([URL, BLOB_NOT_BASE64], ["cat"], {}, "images[1].blob", False),
    "no class": ([URL], [], {}, "classes", True),
    "blank class": ([URL], ["cat", " "], {}, "classes[1].class", False),
    "bad verify": ([URL], ["cat"], {"verify": "hitl"}, "classes[0].verify", True),
    "feedId too long": ([URL], ["cat"], {"feed_id": "f" * 65}, "feedId", True),
}


@pytest.mark.parametrize(
    ("images", "classes", "kw", "field", "spec_rejects"),
    list(REFUSED_DETECT_JOBS.values()),
    ids=list(REFUSED_DETECT_JOBS),
)
def test_a_detect_job_the_api_refuses_is_a_400_naming_the_field_not_retried(
    api: FaultyApi,
    fake_time: FakeTime,
    images: Any,
    classes: Any,
    kw: dict[str, Any],
    field: str,
    spec_rejects: bool,
) -> None:
    with make_client(api, fake_time) as client, pytest.raises(ApiError) as err:
        client.detect(images, classes, **kw)
    assert (err.value.status, err.value.retryable, err.value.attempts) == (400, False, 1)
    assert f'"field":"{field}"' in err.value.body
    assert api.count("POST /detect") == 1 and fake_time.sleeps == []
    refused_on_purpose(api, "POST /detect", "DetectJobRequest", spec_rejects)
    assert jobs_on_the_server(api) == []


@pytest.mark.parametrize(
    ("items", "field"), [([], "classes"), ([("cat", "WRONG")], "classes[0].code")]
)
def test_feedback_the_api_refuses_is_a_400_naming_the_field(
    api: FaultyApi, fake_time: FakeTime, items: Any, field: str
) -> None:
    with make_client(api, fake_time) as client, pytest.raises(ApiError) as err:
        client.send_feedback("j1", items)
    assert (err.value.status, err.value.retryable, err.value.attempts) == (400, False, 1)
    assert f'"field":"{field}"' in err.value.body
    assert api.count("POST /feedback") == 1
    refused_on_purpose(api, "POST /feedback", "FeedbackRequest", spec_rejects=True)


def test_limits_at_the_edge_are_accepted_and_match_the_spec(
    api: FaultyApi, fake_time: FakeTime
) -> None:
    longest = NOWHERE + "a" * (MAX_URL_LENGTH - len(NOWHERE))
    with make_client(api, fake_time) as client:
        job = client.detect(
            [url_image(longest, custom_id="i" * 64)] * MAX_IMAGES_PER_JOB,
            ["cat", "dog"],
            verify="AUTO",
            feed_id="f" * 64,
        )
    assert len(job.images) == MAX_IMAGES_PER_JOB and job.feed_id == "f" * 64
    (body,) = api.bodies("POST /detect")
    assert body["classes"] == [
        {"class": "cat", "verify": "AUTO"},
        {"class": "dog", "verify": "AUTO"},
    ]
