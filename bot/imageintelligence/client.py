"""The shared, thread-safe, token-caching client for the Image Intelligence API v2, cut to what
the bot sends: detect jobs of `blob`/`url` images and class names, polls, and feedback.

One instance serves every thread of the process: one connection pool sized for the worker pool
and one token cache (token.py); retries are decided by whether a request may be repeated
(transport.py). The API checks what it is sent against its spec and answers 400 naming the field:
the client does not check the contract a second time.

Nothing this module logs or raises contains the client secret or an access token: requests are
logged by method, path and status only, and response text is redacted before it reaches an error.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import quote

from .contract import DEFAULT_BASE_URL
from .errors import ApiError, AuthenticationError, InvalidClientCredentials, JobTimeout
from .models import DetectJob
from .token import AccessToken, TokenCache
from .transport import (
    CREATE,
    IDEMPOTENT,
    RETRY_STATUSES,
    Outcome,
    RetryPolicy,
    Transport,
    transient,
)

log = logging.getLogger(__name__)

FIRST_POLL_DELAY = 0.05
FAST_POLL_INTERVAL = 0.15
FAST_POLL_WINDOW = 3.0
SLOW_POLL_FRACTION = 0.1
MAX_POLL_INTERVAL = 2.0
BODY_EXCERPT = 500  # characters of a response body kept in an ApiError

_REDACTED = "[redacted]"

ImageItem = dict[str, str]


def blob_image(data: bytes, custom_id: str | None = None) -> ImageItem:
    """An image item carrying the image bytes themselves (base64)."""
    item = {"blob": base64.b64encode(data).decode("ascii")}
    if custom_id is not None:
        item["customId"] = custom_id
    return item


def url_image(url: str, custom_id: str | None = None) -> ImageItem:
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


@dataclass
class _Payload:
    """A successful response's decoded JSON, with what an error about it would need to say."""

    method: str
    path: str
    status: int
    excerpt: str
    attempts: int
    body: Any = None

    def malformed(self, reason: str) -> ApiError:
        return ApiError(
            f"{self.method} {self.path}: unexpected answer (HTTP {self.status}): {reason}",
            method=self.method,
            path=self.path,
            status=self.status,
            body=self.excerpt,
            attempts=self.attempts,
        )


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
        self._clock = clock
        self._sleep = sleep
        self._transport = Transport(
            base_url,
            pool_size=pool_size,
            timeout=(connect_timeout, read_timeout),
            max_tries=max_tries,
            clock=clock,
            sleep=sleep,
        )
        self._tokens = TokenCache(self._fetch_token, clock)

    def __repr__(self) -> str:
        return (
            f"ImageIntelligenceClient(base_url={self._transport.base_url!r}, "
            f"client_id={self._client_id!r})"
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
        self._transport.close()

    # -- public calls ---------------------------------------------------------------------------

    def access_token(self) -> str:
        """A valid access token (cached, or fetched now)."""
        return self._tokens.get().value

    def detect(
        self,
        images: Sequence[ImageItem],
        classes: Sequence[str],
        *,
        verify: str = "NEVER",
        feed_id: str | None = None,
    ) -> DetectJob:
        """Submit a detect job (`POST /detect`); usually answered IN_PROGRESS (see wait_for_job).

        `images` come from `blob_image` / `url_image` (1 to MAX_IMAGES_PER_JOB); each class name
        is asked for with `verify`; `feed_id` tags the job with where its images come from.

        Retry policy: the API has no idempotency key, so sending this request twice may create two
        jobs (twice the work and the cost, and the first job never looked at). The client
        therefore sends it again only when the first try certainly did nothing:
        - the connection could not be opened (refused, DNS failure, connect timeout), so no byte
          of the request was sent;
        - the answer was 429 or 503, which say the server refused the request without acting on
          it (honouring Retry-After);
        - the answer was 401 on a cached token: it is replaced and the request sent once more.
        A read timeout, a connection dropped after sending, 500, 502 and 504 are not retried: the
        job may exist. They raise ApiError (retryable for timeouts, drops, 502 and 504).
        """
        body: dict[str, Any] = {
            "images": list(images),
            "classes": [{"class": name, "verify": verify} for name in classes],
        }
        if feed_id is not None:
            body["feedId"] = feed_id
        return self._job(self._call("POST", "/detect", CREATE, body))

    def get_detect_job(self, job_id: str) -> DetectJob:
        return self._job(self._call("GET", f"/detect/{quote(job_id, safe='')}", IDEMPOTENT))

    def send_feedback(self, job_id: str, items: Sequence[tuple[str, str]]) -> dict[str, Any]:
        """Report wrong results: `items` are (class, contract.FALSE_POSITIVE | FALSE_NEGATIVE).

        Retried like detect (a retry could record the feedback twice); returns the
        FeedbackResponse.
        """
        body = {
            "jobId": job_id,
            "createdAt": int(time.time() * 1000),
            "classes": [{"class": name, "code": code} for name, code in items],
        }
        answer = self._call("POST", "/feedback", CREATE, body)
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

    def _call(self, method: str, path: str, retry: RetryPolicy, body: Any = None) -> _Payload:
        """An authenticated request; a 401 on a cached token replaces the token and retries once."""
        token = self._tokens.get()
        outcome = self._send(method, path, retry, token, body)
        attempts = outcome.attempts
        if outcome.response is not None and outcome.response.status_code == 401:
            log.info("%s %s: 401 with a cached token; fetching a new token", method, path)
            self._tokens.invalidate(token)
            token = self._tokens.get()
            outcome = self._send(method, path, retry, token, body)
            attempts += outcome.attempts
            if outcome.response is not None and outcome.response.status_code == 401:
                raise AuthenticationError(
                    f"{method} {path}: the API refused a freshly issued access token (401)",
                    status=401,
                )
        return self._payload(method, path, outcome, attempts, token)

    def _send(
        self, method: str, path: str, retry: RetryPolicy, token: AccessToken, body: Any
    ) -> Outcome:
        headers = {"Authorization": f"Bearer {token.value}"}
        return self._transport.send(method, path, retry, headers=headers, json_body=body)

    def _redact(self, text: str, token: AccessToken | None) -> str:
        for secret in (self._client_secret, token.value if token else None):
            if secret:
                text = text.replace(secret, _REDACTED)
        return text

    def _payload(
        self, method: str, path: str, outcome: Outcome, attempts: int, token: AccessToken
    ) -> _Payload:
        """The decoded JSON of a successful outcome, else the ApiError it stands for."""
        tries = f"{attempts} {'try' if attempts == 1 else 'tries'}"
        if outcome.response is None:
            exc = outcome.error
            raise ApiError(
                f"{method} {path}: no answer after {tries} ({type(exc).__name__})",
                method=method,
                path=path,
                status=None,
                retryable=exc is not None and transient(exc),
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
        payload = _Payload(method, path, status, excerpt, attempts)
        try:
            payload.body = response.json()
        except ValueError:
            raise payload.malformed("the body is not JSON") from None
        return payload

    def _job(self, payload: _Payload) -> DetectJob:
        try:
            return DetectJob.from_json(payload.body)
        except ValueError as exc:
            raise payload.malformed(str(exc)) from None

    def _fetch_token(self) -> AccessToken:
        """`POST /oauth/token`; the TokenCache calls this, one thread at a time."""
        path = "/oauth/token"
        credentials = {"clientId": self._client_id, "clientSecret": self._client_secret}
        outcome = self._transport.send("POST", path, IDEMPOTENT, headers={}, json_body=credentials)
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
