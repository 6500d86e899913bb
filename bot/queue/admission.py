"""Fair shares: how much detection work one person, and one workspace, may put on the queue.

Each has two limits, counted in images (a message may share ten, a `/detect` several links: the
work, and the wait it makes others do, is per image):

- in flight (DETECT_USER_IN_FLIGHT, DETECT_TEAM_IN_FLIGHT): the images of its requests that are
  queued or being worked on. This is what keeps one workspace's flood from delaying another's
  upload: whatever it sends, at most that many of its images are ahead in the queue.
- a rate (DETECT_USER_RATE, DETECT_TEAM_RATE): the images it may send in a moving window, which
  also bounds work that ends at once (say, requests that fail) and the Slack calls it costs.

A request larger than a limit counts as the limit: it runs when nothing else of its scope does.
The queues ask `admit` before they queue a detection; the job's runner calls `release` when the
job ends. The counts are kept with the queue: in this process, or on the shared Redis (the rates
with the `limits` library, the work in flight in `slots`), where every web and worker process sees
the same. A person turned away is told so (`refusal_message`), at most once a minute: a flood of
refusals must not become a flood of messages.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import limits
import redis
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter

from bot.blocks.errors import IN_FLIGHT, RATE, TEAM, USER, Refusal
from bot.config import Settings
from bot.jobs import Job
from bot.jobs.detect import DetectImages
from bot.queue.slots import Claim, MemorySlots, RedisSlots, Slots
from bot.sharedredis import NAMESPACE

TOLD = limits.RateLimitItemPerMinute(1)  # refusals told to one person


@dataclass(frozen=True)
class Quotas:
    user_in_flight: int
    team_in_flight: int
    user_rate: limits.RateLimitItem
    team_rate: limits.RateLimitItem
    # How long a job may hold its slots. A run polls the API for at most DETECT_TIMEOUT; the rest
    # covers its downloads, answer and annotated upload, and its wait in the queue.
    lease: float

    @classmethod
    def of(cls, settings: Settings) -> Quotas:
        return cls(
            user_in_flight=settings.detect_user_in_flight,
            team_in_flight=settings.detect_team_in_flight,
            user_rate=limits.parse(settings.detect_user_rate),
            team_rate=limits.parse(settings.detect_team_rate),
            lease=settings.detect_timeout + 120,
        )


@dataclass(frozen=True)
class Share:
    scope: str  # USER or TEAM
    who: tuple[str, ...]  # (team,) or (team, user)
    in_flight: int
    rate: limits.RateLimitItem


def images(job: DetectImages) -> int:
    """How many images the job asks about: its files and links, or the one latest image."""
    return max(1, len(job.files) + len(job.urls))


class Admission:
    def __init__(
        self,
        quotas: Quotas,
        storage: Storage,
        slots: Slots,
        *,
        prefix: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._quotas = quotas
        self._rates = MovingWindowRateLimiter(storage)
        self._slots = slots
        self._prefix = prefix
        self._clock = clock

    def admit(self, job: Job) -> Refusal | None:
        """Count the job against its person's and workspace's shares and return None, or return
        why it does not fit (having counted nothing). Only detections count."""
        if not isinstance(job, DetectImages):
            return None
        cost, shares = images(job), self._shares(job)
        claims = [Claim(key, min(cost, share.in_flight), share.in_flight) for key, share in shares]
        full = self._slots.take(job.id, claims, now=self._clock(), lease=self._quotas.lease)
        if full is not None:
            share = shares[full][1]
            return Refusal(IN_FLIGHT, share.scope, share.in_flight)
        for _, share in shares:
            if not self._rates.test(share.rate, *share.who, cost=min(cost, share.rate.amount)):
                self.release(job)
                reset = self._rates.get_window_stats(share.rate, *share.who).reset_time
                wait = max(1, math.ceil(reset - time.time()))
                return Refusal(RATE, share.scope, share.rate.amount, share.rate.get_expiry(), wait)
        for _, share in shares:
            self._rates.hit(share.rate, *share.who, cost=min(cost, share.rate.amount))
        return None

    def release(self, job: Job) -> None:
        """The job ended (or was not queued after all): give back what `admit` counted."""
        if isinstance(job, DetectImages):
            self._slots.give_back(job.id, [key for key, _ in self._shares(job)])

    def tell(self, job: Job) -> bool:
        """Whether to tell the job's person it was refused: once a minute at most."""
        return self._rates.hit(TOLD, "told", job.team_id, job.user or job.channel)

    def _shares(self, job: DetectImages) -> list[tuple[str, Share]]:
        """The person's share (when the job has a person) and the workspace's, each with the key of
        its slots."""
        q = self._quotas
        shares = [Share(TEAM, (job.team_id,), q.team_in_flight, q.team_rate)]
        if job.user is not None:
            shares.insert(0, Share(USER, (job.team_id, job.user), q.user_in_flight, q.user_rate))
        return [(f"{self._prefix}in-flight:{':'.join(share.who)}", share) for share in shares]


def admission_for(
    settings: Settings,
    client: redis.Redis | None = None,
    *,
    clock: Callable[[], float] = time.time,
) -> Admission:
    """The shares of this process, or with `client` those every process of the shared Redis sees.
    `clock` times the slots' leases."""
    quotas = Quotas.of(settings)
    if client is None:
        return Admission(quotas, MemoryStorage(), MemorySlots(), clock=clock)
    assert settings.redis_url
    storage = RedisStorage(
        settings.redis_url, connection_pool=client.connection_pool, key_prefix=f"{NAMESPACE}:limits"
    )
    return Admission(quotas, storage, RedisSlots(client), prefix=f"{NAMESPACE}:", clock=clock)
