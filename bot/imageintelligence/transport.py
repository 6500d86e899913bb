"""Sending one request to the API, with retries decided by whether the request may be repeated.

Reads and token requests change nothing on the server: any transient failure may be retried.
Requests that create something (a job, a feedback record) are sent again only when the first one
certainly did nothing. Retries wait with exponential back-off and full jitter, honouring
`Retry-After`, at most `max_tries` tries. Time is injected (`clock`, `sleep`): tests never sleep.
Requests are logged by method, path and status only: nothing secret reaches a log.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError, NewConnectionError

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 502, 503, 504})
# Answers that say the server refused the request without acting on it.
REFUSED_STATUSES = frozenset({429, 503})
BACKOFF_BASE = 0.5  # seconds; the n-th retry waits up to BACKOFF_BASE * 2**(n-1)
BACKOFF_CAP = 8.0
MAX_RETRY_AFTER = 30.0  # a server asking for a longer wait gets an error, not a blocked thread


def transient(exc: requests.RequestException) -> bool:
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
class RetryPolicy:
    statuses: frozenset[int]
    transport: Callable[[requests.RequestException], bool]


IDEMPOTENT = RetryPolicy(RETRY_STATUSES, transient)
CREATE = RetryPolicy(REFUSED_STATUSES, _never_sent)


@dataclass(frozen=True)
class Outcome:
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


class Transport:
    """One `requests.Session` whose connection pool is sized for the callers' threads; every
    request has connect and read timeouts."""

    def __init__(
        self,
        base_url: str,
        *,
        pool_size: int,
        timeout: tuple[float, float],
        max_tries: int,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._max_tries = max_tries
        self._clock = clock
        self._sleep = sleep
        self._session = requests.Session()
        self._session.headers["User-Agent"] = "image-intelligence-slackbot"
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)

    @property
    def base_url(self) -> str:
        return self._base_url

    def close(self) -> None:
        self._session.close()

    def send(
        self,
        method: str,
        path: str,
        retry: RetryPolicy,
        *,
        headers: Mapping[str, str],
        json_body: Any = None,
    ) -> Outcome:
        """Send the request, retrying what `retry` allows; the last try's outcome."""
        attempt = 0
        while True:
            attempt += 1
            started = self._clock()
            try:
                response = self._session.request(
                    method,
                    self._base_url + path,
                    json=json_body,
                    headers=headers,
                    timeout=self._timeout,
                )
            except requests.RequestException as exc:
                if not retry.transport(exc) or attempt >= self._max_tries:
                    return Outcome(None, exc, attempt)
                delay, why = self._backoff(attempt), type(exc).__name__
            else:
                status = response.status_code
                log.debug(
                    "%s %s -> %d in %.0f ms", method, path, status, (self._clock() - started) * 1e3
                )
                if status not in retry.statuses or attempt >= self._max_tries:
                    return Outcome(response, None, attempt)
                retry_after = _retry_after(response)
                if retry_after is not None and retry_after > MAX_RETRY_AFTER:
                    log.warning(
                        "%s %s: %d asks to wait %.0f s; not retrying",
                        method,
                        path,
                        status,
                        retry_after,
                    )
                    return Outcome(response, None, attempt)
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
