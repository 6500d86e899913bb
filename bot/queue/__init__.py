"""Where listeners put jobs and workers take them: one interface, two engines.

- `memory.MemoryQueue`: a bounded thread pool in this process, the zero-configuration default.
- `redis.RedisQueue`: a durable queue on Redis shared by web and worker processes (`REDIS_URL`).
- `admission`: the fair shares of each person and workspace both queues apply (counted in `slots`).

`submit(job, key=...)` returns at once with what became of the job. `key` names a delivery that Slack
may send again (its retries carry the same event): the first submission with a key is taken, later
ones are `DUPLICATE`, so a retried event is answered once. A detection past its person's or
workspace's share is LIMITED. A job not taken (LIMITED, BUSY, STOPPING) is told to its person by
the runner (`Runner.refuse`), at most once a minute.
"""

from __future__ import annotations

import enum
import logging
from typing import Protocol

from bot.blocks.errors import IN_FLIGHT, USER, Refusal
from bot.jobs import Job

logger = logging.getLogger(__name__)


class Submitted(enum.Enum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    BUSY = "busy"
    LIMITED = "limited"
    STOPPING = "stopping"


class Runner(Protocol):
    """What the queue's workers call: `jobs.JobRunner` in the bot."""

    def run(self, job: Job) -> None:
        """Raises `RunAgain` when the job must be run again later."""
        ...

    def interrupt(self, job: Job) -> None:
        """A shutdown cut the job short (or it never started): tell its user, if it has not."""
        ...

    def refuse(self, job: Job, refusal: Refusal) -> None:
        """The job was not taken: tell its user why."""
        ...


class Queue(Protocol):
    def submit(self, job: Job, *, key: str | None = None) -> Submitted:
        """Raises `sharedredis.Unavailable` when the job could not be queued (nor its key kept)."""
        ...

    @property
    def stopped(self) -> bool: ...

    def shutdown(self, grace: float) -> int:
        """Stop taking work and finish what is in flight within `grace` seconds; returns how
        many jobs were left unfinished."""
        ...


def refused(job: Job, outcome: Submitted, refusal: Refusal) -> None:
    """Log a job not taken: a warning when the bot could not take it, a note when its person or
    workspace had used up its share."""
    if outcome is not Submitted.LIMITED:
        logger.warning("not taking a %s job: %s", job.kind, outcome.value)
        return
    who = f"{job.team_id}/{job.user}" if refusal.scope == USER else job.team_id
    limit = "images in flight" if refusal.reason == IN_FLIGHT else "rate"
    logger.info("not taking a %s job: %s (%s: %s)", job.kind, outcome.value, who, limit)
