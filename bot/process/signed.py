"""Which HTTP requests are Slack's: signed with the app's signing secret, fresh, and seen once.

Slack signs each request (`X-Slack-Signature`: HMAC-SHA256 of `v0:{timestamp}:{body}`) and a
signature counts for five minutes either side of its `X-Slack-Request-Timestamp` (slack_sdk's
verifier). Inside that window a captured request could be sent again; each signature is remembered
until its window closes, in the shared Redis when there is one (every web process sees the others'
requests) and in memory otherwise, so a replay is refused. Slack's own retries of an event carry a
new timestamp and signature; the queue's keys answer those once.

The check runs before anything parses the body: an unsigned request costs one HMAC, and is refused
with a one-line log that names none of what it carried.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Protocol
from urllib.parse import parse_qs

import redis
from slack_sdk.signature import Clock, SignatureVerifier

from bot.sharedredis import NAMESPACE, Outage, Unavailable

WINDOW = 300  # seconds either side of its timestamp that a signature counts (slack_sdk's verifier)
REMEMBER_AT_MOST = 100_000  # signatures kept in memory; Slack sends far fewer in ten minutes


class Replays(Protocol):
    def first(self, signature: str, seconds: int) -> bool:
        """True the first time `signature` is seen within `seconds`; raises
        `sharedredis.Unavailable` when it cannot tell."""
        ...

    def forget(self, signature: str) -> None:
        """`signature` was not taken after all (its request failed): it may come again."""
        ...


class MemoryReplays:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._until: OrderedDict[str, float] = OrderedDict()

    def first(self, signature: str, seconds: int) -> bool:
        now = self._clock()
        with self._lock:
            until = self._until.get(signature)
            if until is not None and until > now:
                return False
            self._until[signature] = now + seconds
            self._until.move_to_end(signature)
            while self._until and (
                len(self._until) > REMEMBER_AT_MOST or next(iter(self._until.values())) <= now
            ):
                self._until.popitem(last=False)
            return True

    def forget(self, signature: str) -> None:
        with self._lock:
            self._until.pop(signature, None)


class RedisReplays:
    def __init__(self, client: redis.Redis, outage: Outage) -> None:
        self._client = client
        self._outage = outage

    def first(self, signature: str, seconds: int) -> bool:
        key = self._key(signature)
        return bool(self._outage.run(lambda: self._client.set(key, 1, nx=True, ex=seconds)))

    def forget(self, signature: str) -> None:
        self._outage.run(lambda: self._client.delete(self._key(signature)))

    @staticmethod
    def _key(signature: str) -> str:
        return f"{NAMESPACE}:signed:{signature}"


class SlackSignatures:
    """`refusal(headers, body)`: None for a request Slack signed, else why not (for the log).
    `replayed(headers)`: whether this signed request was already taken."""

    def __init__(self, signing_secret: str, replays: Replays, clock: Clock | None = None) -> None:
        self._clock = clock or Clock()
        self._verifier = SignatureVerifier(signing_secret, self._clock)
        self._replays = replays

    def refusal(self, headers: Mapping[str, str], body: bytes) -> str | None:
        timestamp = headers.get("x-slack-request-timestamp", "")
        signature = headers.get("x-slack-signature", "")
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
            return "no valid X-Slack-Request-Timestamp"
        # hmac.compare_digest refuses non-ASCII text with a TypeError.
        if not (signature.isascii() and signature.startswith("v0=")):
            return "no valid X-Slack-Signature"
        if not self._verifier.is_valid(body, timestamp, signature):
            return "a signature that does not match, or is over five minutes old"
        return None

    def replayed(self, headers: Mapping[str, str]) -> bool:
        """Call once `refusal` found the request signed: whether it was taken before. Taking it
        now, call `failed` if it fails, so that Slack may send it again."""
        expires = int(headers["x-slack-request-timestamp"]) + WINDOW
        seconds = max(1, expires - int(self._clock.now()) + 1)
        return not self._replays.first(headers["x-slack-signature"], seconds)

    def failed(self, headers: Mapping[str, str]) -> None:
        # In an outage (logged), Slack's next try of an event has a new signature anyway.
        with contextlib.suppress(Unavailable):
            self._replays.forget(headers["x-slack-signature"])


def is_ssl_check(headers: Mapping[str, str], body: bytes) -> bool:
    """Slack's check of a slash command's HTTPS certificate: an unsigned form with ssl_check=1,
    answered 200 and nothing else (bolt-js issue 1397 shows one)."""
    if not headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return False
    return parse_qs(body.decode("latin-1")).get("ssl_check") == ["1"]
