"""Slack's rate limits, kept by every process of the deployment: each Web API method's calls in a
workspace paced within the method's tier, chat.postMessage paced per channel, and a `Retry-After`
from Slack honoured by every process until it runs out.

Slack limits an app per workspace and per method (docs.slack.dev, "Rate limits"): Tier 2 allows 20
calls a minute, Tier 3 50 and Tier 4 100; chat.postMessage about one a second in a channel, "with
short bursts" (here up to POST_BURST, as when a reply follows an announcement, or a shutdown tells
a channel's few jobs that they were interrupted). The `limits` library keeps a moving window per
workspace and method (per channel for chat.postMessage) in this process's memory, or in the Redis
that web and worker processes share, so that N workers spend one budget between them. When Slack
refuses a call all the same (429), its `Retry-After` is kept beside the windows, and no process
makes that call again before it runs out.

`Pacer.turn` says how long a call must wait: 0 when it may go now (its place in the window taken).
The responder skips a call that can wait for nothing (a reaction), and has a call that must happen
(an answer) run again later (`RateLimited`): no thread waits seconds for Slack.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Protocol, cast

import redis
from limits import RateLimitItem, RateLimitItemPerMinute, RateLimitItemPerSecond
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter

from bot.sharedredis import NAMESPACE

# Calls a minute per workspace in each tier (Tier 1's one a minute: no method the bot calls).
TIERS = {2: 20, 3: 50, 4: 100}
# Every method the bot calls with a workspace's token, and its tier; chat.postMessage is paced per
# channel instead (PER_CHANNEL).
METHOD_TIERS = {
    "chat.postEphemeral": 4,
    "files.completeUploadExternal": 4,
    "files.getUploadURLExternal": 4,
    "files.info": 4,
    "files.list": 3,
    "reactions.add": 3,
    "users.info": 4,
    "views.open": 4,
    "views.publish": 4,
}
PER_CHANNEL = "chat.postMessage"
POST_BURST = 3  # chat.postMessage in a channel: at most this many in as many seconds
# A call that waited for its turn goes this much after the window frees a place: Slack counts a
# call when it arrives, a few milliseconds after the window here.
TURN_MARGIN = 0.05
# A Retry-After longer than this is taken as this long: one answer must not stop a method for days.
MAX_RETRY_AFTER = 300.0
# Slack always sends Retry-After with a 429; without one, wait as long as its shortest.
DEFAULT_RETRY_AFTER = 1.0
REFUSALS_SECONDS = 86_400  # Redis keeps the count of 429s a day after the last one


class RateLimited(Exception):
    """A call that must happen cannot go for `delay` seconds (the queue runs its job again then)."""

    def __init__(self, method: str, delay: float) -> None:
        super().__init__(f"{method}: Slack's rate limit lets it go in {delay:.1f} s")
        self.method = method
        self.delay = delay


class Holds(Protocol):
    """Where the Retry-After of each refused call is kept, and the 429s counted by method."""

    def hold(self, key: str, until: float, seconds: float) -> None:
        """Hold `key` until `until` (UNIX time), `seconds` from now."""
        ...

    def until(self, key: str) -> float:
        """When the hold on `key` ends (UNIX time); 0 when there is none."""
        ...

    def count(self, method: str) -> int:
        """Count a 429 for `method`; how many there have been."""
        ...

    def counts(self) -> dict[str, int]: ...


class MemoryHolds:
    def __init__(self) -> None:
        self._until: dict[str, float] = {}
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def hold(self, key: str, until: float, seconds: float) -> None:
        with self._lock:
            self._until[key] = max(until, self._until.get(key, 0.0))

    def until(self, key: str) -> float:
        with self._lock:
            return self._until.get(key, 0.0)

    def count(self, method: str) -> int:
        with self._lock:
            self._counts[method] += 1
            return self._counts[method]

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


class RedisHolds:
    """Holds every process sees: a key per hold, gone when it ends; the 429s in one hash."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._counts = f"{NAMESPACE}:slack:429s"

    def hold(self, key: str, until: float, seconds: float) -> None:
        self._client.set(self._key(key), repr(until), px=math.ceil(seconds * 1000))

    def until(self, key: str) -> float:
        value = cast(bytes | None, self._client.get(self._key(key)))
        return float(value) if value else 0.0

    def count(self, method: str) -> int:
        pipe = self._client.pipeline(transaction=False)
        pipe.hincrby(self._counts, method, 1)
        pipe.expire(self._counts, REFUSALS_SECONDS)
        count, _ = pipe.execute()
        return int(count)

    def counts(self) -> dict[str, int]:
        stored = cast(dict[bytes, bytes], self._client.hgetall(self._counts))
        return {method.decode(): int(count) for method, count in stored.items()}

    @staticmethod
    def _key(key: str) -> str:
        return f"{NAMESPACE}:slack:hold:{key}"


class Pacer:
    """The calls of every workspace's Web API methods, and Slack's refusals, as far as this
    deployment sees them: this process's (`memory`) or every process's (`shared`)."""

    def __init__(
        self, storage: Storage, holds: Holds, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._limiter = MovingWindowRateLimiter(storage)
        self._holds = holds
        self._clock = clock
        self._limits: dict[str, RateLimitItem] = {
            method: RateLimitItemPerMinute(TIERS[tier], namespace="pace")
            for method, tier in METHOD_TIERS.items()
        }
        self._limits[PER_CHANNEL] = RateLimitItemPerSecond(POST_BURST, POST_BURST, "pace")

    @classmethod
    def memory(cls, *, clock: Callable[[], float] = time.time) -> Pacer:
        return cls(MemoryStorage(), MemoryHolds(), clock=clock)

    @classmethod
    def shared(cls, client: redis.Redis, *, clock: Callable[[], float] = time.time) -> Pacer:
        """Windows and holds in the Redis every process of the deployment shares."""
        storage = RedisStorage(
            "redis://", connection_pool=client.connection_pool, key_prefix=f"{NAMESPACE}:slack"
        )
        return cls(storage, RedisHolds(client), clock=clock)

    def turn(self, team: str, method: str, channel: str | None = None, cost: int = 1) -> float:
        """Seconds before `method` may be called in `team` (in `channel`, for chat.postMessage):
        0 when it may be called now, and then its place in the window is taken."""
        where = self._where(team, method, channel)
        held = self._holds.until("/".join(where)) - self._clock()
        if held > 0:
            return held
        limit = self._limits[method]
        if self._limiter.hit(limit, *where, cost=cost):
            return 0.0
        # The window frees a place when its oldest call is a window old.
        reset = self._limiter.get_window_stats(limit, *where).reset_time
        return max(reset - time.time(), 0.0) + TURN_MARGIN

    def refused(
        self, team: str, method: str, channel: str | None, retry_after: float | None
    ) -> tuple[float, int]:
        """Slack answered 429: no process calls `method` there again for `retry_after` seconds
        (within reason). The wait, and how many 429s `method` has had."""
        wait = DEFAULT_RETRY_AFTER
        if retry_after is not None and retry_after > 0:  # NaN is not
            wait = min(retry_after, MAX_RETRY_AFTER)
        key = "/".join(self._where(team, method, channel))
        self._holds.hold(key, self._clock() + wait, wait)
        return wait, self._holds.count(method)

    def refusals(self) -> dict[str, int]:
        """The 429s counted by method: this process's, or (shared) the deployment's last day's."""
        return self._holds.counts()

    def _where(self, team: str, method: str, channel: str | None) -> tuple[str, ...]:
        if method not in self._limits:
            raise KeyError(f"{method} has no rate limit in bot/slack/pacing.py")
        return (team, method, channel or "") if method == PER_CHANNEL else (team, method)
