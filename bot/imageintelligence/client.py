"""The shared, thread-safe, token-caching client for the Image Intelligence API v2.

One instance serves every thread of the process: one `requests.Session` whose connection pool is
sized for the worker pool, one token cache (see token.py). Every request has connect and read
timeouts; transient failures are retried with exponential back-off and full jitter, honouring
`Retry-After`, at most `max_tries` tries. Time is injected (`clock`, `sleep`): tests never sleep.

Nothing this module logs or raises contains the client secret or an access token: requests are
logged by method, path and status only, and response text is redacted before it reaches an error.
"""

from __future__ import annotations

import base64
import binascii
import logging
import math
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError, NewConnectionError

from .contract import (
    DEFAULT_BASE_URL,
    FEEDBACK_CODES,
    MAX_ID_LENGTH,
    MAX_IMAGES_PER_JOB,
    MAX_URL_LENGTH,
    MAX_WEBHOOK_URL_LENGTH,
    VERIFY_MODES,
)
from .errors import ApiError, AuthenticationError, InvalidClientCredentials, JobTimeout
from .models import DetectJob
from .token import AccessToken, TokenCache

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 502, 503, 504})
# Answers that say the server refused the request without acting on it.
REFUSED_STATUSES = frozenset({429, 503})
BACKOFF_BASE = 0.5  # seconds; the n-th retry waits up to BACKOFF_BASE * 2**(n-1)
BACKOFF_CAP = 8.0
MAX_RETRY_AFTER = 30.0  # a server asking for a longer wait gets an error, not a blocked thread
FIRST_POLL_DELAY = 0.05
FAST_POLL_INTERVAL = 0.15
FAST_POLL_WINDOW = 3.0
SLOW_POLL_FRACTION = 0.1
MAX_POLL_INTERVAL = 2.0
BODY_EXCERPT = 500  # characters of a response body kept in an ApiError

_IMAGE_KEYS = frozenset({"url", "blob", "customId"})
_CLASS_KEYS = frozenset({"class", "verify", "exclusionZones"})
_REDACTED = "[redacted]"


def blob_image(data: bytes, custom_id: str | None = None) -> dict[str, str]:
    """An image item carrying the image bytes themselves (base64)."""
    item = {"blob": base64.b64encode(data).decode("ascii")}
    if custom_id is not None:
        item["customId"] = custom_id
    return item


def url_image(url: str, custom_id: str | None = None) -> dict[str, str]:
    """An image item the API fetches itself from a public http(s) URL."""
    item = {"url": url}
    if custom_id is not None:
        item["customId"] = custom_id
    return item


def poll_delay(elapsed: float) -> float:
    """Seconds to wait before the next poll of a job submitted `elapsed` seconds ago.

    Most jobs take a few seconds: while a job is younger than FAST_POLL_WINDOW it is polled every
    FAST_POLL_INTERVAL (ramping up from FIRST_POLL_DELAY), so its end is seen within that interval;
    a job of 2.5 s costs about 18 polls. Older jobs are polled at a tenth of their age, up to
    MAX_POLL_INTERVAL, so a one-minute job costs about 60 polls rather than one every 150 ms.
    """
    if elapsed < FAST_POLL_WINDOW:
        return min(FAST_POLL_INTERVAL, max(FIRST_POLL_DELAY, elapsed))
    return min(MAX_POLL_INTERVAL, max(FAST_POLL_INTERVAL, elapsed * SLOW_POLL_FRACTION))


def _transient(exc: requests.RequestException) -> bool:
    """A failure on the way (no answer, or a broken one) that another try may not meet."""
    return isinstance(
        exc, (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)
    )


def _never_sent(exc: requests.RequestException) -> bool:
    """The connection could not be opened (refused, DNS failure, connect timeout): no byte of
    the request reached the server."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if not isinstance(exc, requests.ConnectionError) or not exc.args:
        return False
    reason = exc.args[0]
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    return isinstance(reason, NewConnectionError)


@dataclass(frozen=True)
class _RetryPolicy:
    statuses: frozenset[int]
    transport: Callable[[requests.RequestException], bool]


# Reads and token requests change nothing on the server: any transient failure may be retried.
_IDEMPOTENT = _RetryPolicy(RETRY_STATUSES, _transient)
# Requests that create something (a job, a feedback record) are sent again only when the first
# one certainly did nothing; see ImageIntelligenceClient.detect.
_CREATE = _RetryPolicy(REFUSED_STATUSES, _never_sent)


@dataclass(frozen=True)
class _Outcome:
    """The last try of a request: its response, or the exception that stood for one."""

    response: requests.Response | None
    error: requests.RequestException | None
    attempts: int


def _retry_after(response: requests.Response) -> float | None:
    """The `Retry-After` header in seconds (the HTTP-date form is not used by the API)."""
    try:
        seconds = float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None
    return max(seconds, 0.0) if math.isfinite(seconds) else None


def _checked_str(value: Any, name: str, limit: int) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string")
    if len(value) > limit:
        raise ValueError(f"{name} is longer than {limit} characters ({len(value)})")
    return value


def _sequence(value: Any, name: str) -> Sequence[Any]:
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
        raise ValueError(f"{name} must be a list")
    return value


def _image_item(item: Any, where: str) -> dict[str, Any]:
    if not isinstance(item, Mapping):
        raise ValueError(f"{where} must be a dict with 'url' or 'blob'")
    unknown = sorted(set(item) - _IMAGE_KEYS)
    if unknown:
        raise ValueError(f"{where} has unknown keys {unknown}; allowed: blob, customId, url")
    if ("url" in item) == ("blob" in item):
        raise ValueError(f"{where} needs exactly one of 'url' or 'blob'")
    if "url" in item:
        url = _checked_str(item["url"], f"{where}.url", MAX_URL_LENGTH)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{where}.url must be an http(s) URL")
    else:
        blob = item["blob"]
        if not isinstance(blob, str) or not blob:
            raise ValueError(f"{where}.blob must be a non-empty base64 string (see blob_image)")
        try:
            base64.b64decode(blob, validate=True)
        except binascii.Error:
            raise ValueError(f"{where}.blob is not valid base64 (see blob_image)") from None
    if "customId" in item:
        _checked_str(item["customId"], f"{where}.customId", MAX_ID_LENGTH)
    return dict(item)


def _class_item(item: Any, verify: str, where: str) -> dict[str, Any]:
    if isinstance(item, str):
        entry: dict[str, Any] = {"class": item, "verify": verify}
    elif isinstance(item, Mapping):
        unknown = sorted(set(item) - _CLASS_KEYS)
        if unknown:
            hint = " (the v2 field for 'hitl' is 'verify')" if "hitl" in unknown else ""
            raise ValueError(
                f"{where} has unknown keys {unknown}{hint}; allowed: class, exclusionZones, verify"
            )
        entry = {"verify": verify, **item}
        if entry["verify"] not in VERIFY_MODES:
            raise ValueError(f"{where}.verify must be one of {', '.join(VERIFY_MODES)}")
        if "exclusionZones" in entry and not isinstance(entry["exclusionZones"], Mapping):
            raise ValueError(f"{where}.exclusionZones must be a dict")
    else:
        raise ValueError(f"{where} must be a class name or a class item dict")
    name = entry.get("class")
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{where} needs a non-empty class name")
    return entry


def _detect_body(
    images: Sequence[Mapping[str, Any]],
    classes: Sequence[str | Mapping[str, Any]],
    verify: str,
    custom_id: str | None,
    feed_id: str | None,
    webhook_url: str | None,
) -> dict[str, Any]:
    """A DetectJobRequest, or ValueError naming the limit the input breaks."""
    if verify not in VERIFY_MODES:
        raise ValueError(f"verify must be one of {', '.join(VERIFY_MODES)}, not {verify!r}")
    images = _sequence(images, "images")
    if not 1 <= len(images) <= MAX_IMAGES_PER_JOB:
        raise ValueError(
            f"a detect job takes 1 to {MAX_IMAGES_PER_JOB} images (MAX_IMAGES_PER_JOB), "
            f"got {len(images)}"
        )
    classes = _sequence(classes, "classes")
    if not classes:
        raise ValueError("classes must name at least one class")
    body: dict[str, Any] = {
        "images": [_image_item(item, f"images[{i}]") for i, item in enumerate(images)],
        "classes": [_class_item(item, verify, f"classes[{i}]") for i, item in enumerate(classes)],
    }
    for key, value, limit in (
        ("customId", custom_id, MAX_ID_LENGTH),
        ("feedId", feed_id, MAX_ID_LENGTH),
        ("webhookUrl", webhook_url, MAX_WEBHOOK_URL_LENGTH),
    ):
        if value is not None:
            body[key] = _checked_str(value, key, limit)
    return body


class ImageIntelligenceClient:
    """A client for one API account, shared by all threads; see the module docstring."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        pool_size: int = 10,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        max_tries: int = 3,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not client_id or not client_secret:
            raise ValueError("client_id and client_secret must be non-empty")
        if max_tries < 1 or pool_size < 1:
            raise ValueError("max_tries and pool_size must be at least 1")
        self._client_id = client_id
        self._client_secret = client_secret
        self._base_url = base_url.rstrip("/")
        self._timeout = (connect_timeout, read_timeout)
        self._max_tries = max_tries
        self._clock = clock
        self._sleep = sleep
        self._session = requests.Session()
        self._session.headers["User-Agent"] = "image-intelligence-slackbot"
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._tokens = TokenCache(self._fetch_token, clock)

    def __repr__(self) -> str:
        return (
            f"ImageIntelligenceClient(base_url={self._base_url!r}, client_id={self._client_id!r})"
        )

    def __enter__(self) -> ImageIntelligenceClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    # -- public calls ---------------------------------------------------------------------------

    def access_token(self) -> str:
        """A valid access token (cached, or fetched now)."""
        return self._tokens.get().value

    def detect(
        self,
        images: Sequence[Mapping[str, Any]],
        classes: Sequence[str | Mapping[str, Any]],
        *,
        verify: str = "NEVER",
        custom_id: str | None = None,
        feed_id: str | None = None,
        webhook_url: str | None = None,
    ) -> DetectJob:
        """Submit a detect job (`POST /detect`); usually answered IN_PROGRESS (see wait_for_job).

        `images`: 1 to 64 items from `blob_image` / `url_image`; `classes`: class names, or full
        class items (`{"class", "verify"?, "exclusionZones"?}`; a missing `verify` gets `verify`).
        Input outside the API's limits raises ValueError naming the limit, before any request.

        Retry policy: the API has no idempotency key, so sending this request twice may create two
        jobs (twice the work and the cost, and the first job never looked at). The client
        therefore sends it again only when the first try certainly did nothing:
        - the connection could not be opened (refused, DNS failure, connect timeout), so no byte
          of the request was sent;
        - the answer was 429 or 503, which say the server refused the request without acting on
          it (honouring Retry-After);
        - the answer was 401 on a cached token: it is replaced and the request sent once more.
        A read timeout, a connection dropped after sending, 500, 502 and 504 are not retried: the
        job may exist. They raise ApiError (retryable for timeouts, drops, 502 and 504); a caller
        that passed `custom_id` can look for the job with `search_detect_jobs(custom_id=...)`
        before submitting again.
        """
        body = _detect_body(images, classes, verify, custom_id, feed_id, webhook_url)
        return self._job(self._call("POST", "/detect", _CREATE, json_body=body))

    def get_detect_job(self, job_id: str) -> DetectJob:
        _checked_str(job_id, "job_id", 1024)
        path = f"/detect/{quote(job_id, safe='')}"
        return self._job(self._call("GET", path, _IDEMPOTENT))

    def search_detect_jobs(
        self, custom_id: str | None = None, feed_id: str | None = None
    ) -> list[DetectJob]:
        params = {
            key: _checked_str(value, key, MAX_ID_LENGTH)
            for key, value in (("customId", custom_id), ("feedId", feed_id))
            if value is not None
        }
        answer = self._call("GET", "/detect", _IDEMPOTENT, params=params)
        if not isinstance(answer.body, list):
            raise answer.malformed("a list of jobs was expected")
        try:
            return [DetectJob.from_json(job) for job in answer.body]
        except ValueError as exc:
            raise answer.malformed(str(exc)) from None

    def send_feedback(self, job_id: str, items: Sequence[tuple[str, str]]) -> dict[str, Any]:
        """Report wrong results: `items` are (class, "FALSE_POSITIVE" | "FALSE_NEGATIVE").

        Retried like detect (a retry could record the feedback twice); returns the
        FeedbackResponse.
        """
        _checked_str(job_id, "job_id", 1024)
        classes = []
        for i, (class_name, code) in enumerate(_sequence(items, "feedback items")):
            if not isinstance(class_name, str) or not class_name:
                raise ValueError(f"feedback items[{i}] needs a non-empty class name")
            if code not in FEEDBACK_CODES:
                raise ValueError(
                    f"feedback items[{i}] code must be one of {', '.join(FEEDBACK_CODES)}"
                )
            classes.append({"class": class_name, "code": code})
        if not classes:
            raise ValueError("feedback needs at least one (class, code) item")
        body = {"jobId": job_id, "createdAt": int(time.time() * 1000), "classes": classes}
        answer = self._call("POST", "/feedback", _CREATE, json_body=body)
        if not isinstance(answer.body, dict):
            raise answer.malformed("a feedback object was expected")
        return answer.body

    def wait_for_job(self, job: DetectJob | str, timeout: float) -> DetectJob:
        """Poll `GET /detect/{id}` until the job is no longer IN_PROGRESS, or raise JobTimeout.

        A finished DetectJob is returned as is, with no request. A job just submitted is polled
        on the schedule of `poll_delay`; a bare job id (perhaps long finished) is polled at once.
        No sleep goes past the deadline; the last poll is made at it.
        """
        if isinstance(job, DetectJob) and job.finished:
            return job
        job_id = job.id if isinstance(job, DetectJob) else job
        started = self._clock()
        deadline = started + timeout
        pause = poll_delay(0.0) if isinstance(job, DetectJob) else 0.0
        while True:
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise JobTimeout(job_id, timeout)
            if pause > 0:
                self._sleep(min(pause, remaining))
            current = self.get_detect_job(job_id)
            if current.finished:
                return current
            pause = poll_delay(self._clock() - started)

    # -- plumbing -------------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        retry: _RetryPolicy,
        *,
        json_body: Any = None,
        params: Mapping[str, str] | None = None,
    ) -> _Answer:
        """An authenticated request; a 401 on a cached token replaces the token and retries once."""
        token = self._tokens.get()
        outcome = self._exchange(method, path, retry, token, json_body=json_body, params=params)
        attempts = outcome.attempts
        if outcome.response is not None and outcome.response.status_code == 401:
            log.info("%s %s: 401 with a cached token; fetching a new token", method, path)
            self._tokens.invalidate(token)
            token = self._tokens.get()
            outcome = self._exchange(method, path, retry, token, json_body=json_body, params=params)
            attempts += outcome.attempts
            if outcome.response is not None and outcome.response.status_code == 401:
                raise AuthenticationError(
                    f"{method} {path}: the API refused a freshly issued access token (401)",
                    status=401,
                )
        return self._answer(method, path, outcome, attempts, token)

    def _exchange(
        self,
        method: str,
        path: str,
        retry: _RetryPolicy,
        token: AccessToken | None,
        *,
        json_body: Any = None,
        params: Mapping[str, str] | None = None,
    ) -> _Outcome:
        """Send the request, retrying what `retry` allows; the last try's outcome."""
        headers = {} if token is None else {"Authorization": f"Bearer {token.value}"}
        attempt = 0
        while True:
            attempt += 1
            started = self._clock()
            try:
                response = self._session.request(
                    method,
                    self._base_url + path,
                    json=json_body,
                    params=params,
                    headers=headers,
                    timeout=self._timeout,
                )
            except requests.RequestException as exc:
                if not retry.transport(exc) or attempt >= self._max_tries:
                    return _Outcome(None, exc, attempt)
                delay, why = self._backoff(attempt), type(exc).__name__
            else:
                status = response.status_code
                log.debug(
                    "%s %s -> %d in %.0f ms", method, path, status, (self._clock() - started) * 1e3
                )
                if status not in retry.statuses or attempt >= self._max_tries:
                    return _Outcome(response, None, attempt)
                retry_after = _retry_after(response)
                if retry_after is not None and retry_after > MAX_RETRY_AFTER:
                    log.warning(
                        "%s %s: %d asks to wait %.0f s; not retrying",
                        method,
                        path,
                        status,
                        retry_after,
                    )
                    return _Outcome(response, None, attempt)
                delay = self._backoff(attempt) if retry_after is None else retry_after
                why = f"HTTP {status}"
            log.warning(
                "%s %s: %s on try %d of %d; retrying in %.2f s",
                method,
                path,
                why,
                attempt,
                self._max_tries,
                delay,
            )
            self._sleep(delay)

    @staticmethod
    def _backoff(attempt: int) -> float:
        """Full jitter: uniform in [0, BACKOFF_BASE * 2**(attempt-1)], capped."""
        return random.uniform(0.0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1)))

    def _redact(self, text: str, token: AccessToken | None) -> str:
        for secret in (self._client_secret, token.value if token else None):
            if secret:
                text = text.replace(secret, _REDACTED)
        return text

    def _answer(
        self,
        method: str,
        path: str,
        outcome: _Outcome,
        attempts: int,
        token: AccessToken | None,
    ) -> _Answer:
        """The decoded JSON of a successful outcome, else the ApiError it stands for."""
        tries = f"{attempts} {'try' if attempts == 1 else 'tries'}"
        if outcome.response is None:
            exc = outcome.error
            raise ApiError(
                f"{method} {path}: no answer after {tries} ({type(exc).__name__})",
                method=method,
                path=path,
                status=None,
                retryable=exc is not None and _transient(exc),
                attempts=attempts,
            ) from exc
        response = outcome.response
        status = response.status_code
        excerpt = self._redact(response.text, token)[:BODY_EXCERPT]
        if not 200 <= status < 300:
            raise ApiError(
                f"{method} {path}: HTTP {status} after {tries}: {excerpt}",
                method=method,
                path=path,
                status=status,
                body=excerpt,
                retryable=status in RETRY_STATUSES,
                attempts=attempts,
            )
        answer = _Answer(method, path, status, excerpt, attempts, None)
        try:
            answer.body = response.json()
        except ValueError:
            raise answer.malformed("the body is not JSON") from None
        return answer

    def _job(self, answer: _Answer) -> DetectJob:
        try:
            return DetectJob.from_json(answer.body)
        except ValueError as exc:
            raise answer.malformed(str(exc)) from None

    def _fetch_token(self) -> AccessToken:
        """`POST /oauth/token`; the TokenCache calls this, one thread at a time."""
        path = "/oauth/token"
        credentials = {"clientId": self._client_id, "clientSecret": self._client_secret}
        outcome = self._exchange("POST", path, _IDEMPOTENT, None, json_body=credentials)
        received_at = self._clock()
        response = outcome.response
        if response is None:
            raise AuthenticationError(
                f"could not get an access token: no answer from POST {path} after "
                f"{outcome.attempts} tries ({type(outcome.error).__name__})",
                retryable=True,
            ) from outcome.error
        status = response.status_code
        if status == 401:
            raise InvalidClientCredentials(
                f"the API refused the client id and secret (401 from POST {path})"
            )
        if not 200 <= status < 300:
            excerpt = self._redact(response.text, None)[:BODY_EXCERPT]
            raise AuthenticationError(
                f"could not get an access token: HTTP {status} from POST {path}: {excerpt}",
                status=status,
                retryable=status in RETRY_STATUSES,
            )
        try:
            token = AccessToken.from_response(response.json(), received_at)
        except ValueError as exc:
            # The body holds the token: say what is wrong with it, never what it says.
            raise AuthenticationError(
                f"could not get an access token: malformed answer from POST {path} ({exc})",
                status=status,
            ) from None
        log.info("fetched an access token valid for %.0f s", token.lifetime)
        return token


@dataclass
class _Answer:
    """A successful response's decoded JSON, with what an error about it would need to say."""

    method: str
    path: str
    status: int
    excerpt: str
    attempts: int
    body: Any

    def malformed(self, reason: str) -> ApiError:
        return ApiError(
            f"{self.method} {self.path}: unexpected answer (HTTP {self.status}): {reason}",
            method=self.method,
            path=self.path,
            status=self.status,
            body=self.excerpt,
            attempts=self.attempts,
        )
