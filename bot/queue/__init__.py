"""Where listeners put jobs and workers take them: one interface, two engines.

- `memory.MemoryQueue`: a bounded thread pool in this process, the zero-configuration default.
- `redis.RedisQueue`: a durable queue on Redis shared by web and worker processes (`REDIS_URL`).

`submit(job, key=...)` returns at once with what became of the job. `key` names a delivery that Slack
may send again (its retries carry the same event): the first submission with a key is taken, later
ones are `DUPLICATE`, so a retried event is answered once.
"""

from __future__ import annotations

import enum
from typing import Protocol

from bot.jobs import Job


class Submitted(enum.Enum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    BUSY = "busy"
    STOPPING = "stopping"


class Runner(Protocol):
    """What the queue's workers call: `jobs.JobRunner` in the bot."""

    def run(self, job: Job) -> None:
        """Raises `RunAgain` when the job must be run again later."""
        ...

    def interrupt(self, job: Job) -> None:
        """A shutdown cut the job short (or it never started): tell its user, if it has not."""
        ...

    def refuse(self, job: Job, *, restarting: bool) -> None:
        """The job was not taken: tell its user."""
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
