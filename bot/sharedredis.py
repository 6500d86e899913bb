"""The Redis that web and worker processes share (`REDIS_URL`): connecting to it, naming it without its
password, and living through its outages.

A web process must answer Slack within 3 s, so its reads and writes fail fast; when Redis cannot be
reached they raise `Unavailable`, which the app answers with a 503 (Slack delivers the request again
later) rather than acknowledging work it could not keep. `Outage` logs the start and the end of an
outage once each, whichever of the process's users of Redis meets it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

import redis
from redis.backoff import ExponentialWithJitterBackoff
from redis.retry import Retry

logger = logging.getLogger(__name__)
T = TypeVar("T")

NAMESPACE = "ii-bot"  # every key the bot writes starts with it
TIMEOUT = 0.5  # seconds to connect, and for each reply


class Unavailable(Exception):
    """The shared Redis cannot be reached: nothing was read or written."""


def connect(url: str, *, patient: bool = False) -> redis.Redis:
    """A client that fails fast: a web process must answer Slack within its 3 s. A Redis that does
    not answer costs a command about 2 s: two tries, each of which may reconnect (redis-py retries
    the connection's handshake too), each step waiting TIMEOUT.

    `patient` (worker processes, which answer no one within a deadline): tries for several seconds,
    so that a Redis restarting does not stop Dramatiq's consumers, which restart only 3 s later.
    """
    retries, cap = (10, 0.5) if patient else (1, 0.2)
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=TIMEOUT,
        socket_timeout=TIMEOUT,
        retry=Retry(ExponentialWithJitterBackoff(cap=cap, base=0.05), retries=retries),
        health_check_interval=30,
    )


def where(url: str) -> str:
    """The Redis URL without its password, for logs and `check`."""
    parts = urlsplit(url)
    host = f"{parts.hostname}:{parts.port or 6379}" if parts.hostname else url.split("?")[0]
    return f"{parts.scheme}://{host}{parts.path}"


class Outage:
    """Runs a process's calls to Redis, turning a failure into `Unavailable` and logging an outage's
    start and end once each."""

    def __init__(self, url: str) -> None:
        self._where = where(url)
        self._lock = threading.Lock()
        self._down = False

    def run(self, action: Callable[[], T]) -> T:
        """What `action` returns; Unavailable when Redis cannot be reached."""
        try:
            value = action()
        except redis.RedisError as exc:
            self._went_down(exc)
            raise Unavailable(f"cannot reach Redis at {self._where}") from None
        self._came_back()
        return value

    def healthy(self, client: redis.Redis) -> bool:
        try:
            self.run(client.ping)
        except Unavailable:
            return False
        return True

    def _went_down(self, exc: redis.RedisError) -> None:
        with self._lock:
            if self._down:
                return
            self._down = True
        logger.error(
            "cannot reach Redis at %s (%s): answering Slack 503 so that it sends again later",
            self._where,
            type(exc).__name__,
        )

    def _came_back(self) -> None:
        with self._lock:
            if not self._down:
                return
            self._down = False
        logger.warning("Redis at %s is reachable again", self._where)


def delete_matching(client: redis.Redis, pattern: str) -> None:
    """Delete every key matching `pattern` (SCAN, a batch at a time: never KEYS on a live Redis)."""
    batch: list[bytes] = []
    for key in client.scan_iter(match=pattern, count=500):
        batch.append(key)
        if len(batch) == 500:
            client.delete(*batch)
            batch.clear()
    if batch:
        client.delete(*batch)
