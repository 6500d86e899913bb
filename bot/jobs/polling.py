"""Waiting for a detect job on the API: in the worker's thread, or by running the job again later.

`BlockingPoller` (the single process) polls on `poll_delay`'s schedule inside the thread, as the API
client's `wait_for_job` does. `DeferringPoller` (web and worker processes on Redis) polls once and,
while the API job runs, raises `Later` so that the queue runs the job again at the next poll time:
no worker thread sits waiting on a slow job.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from bot.imageintelligence.client import ImageIntelligenceClient, poll_delay
from bot.imageintelligence.errors import JobTimeout
from bot.imageintelligence.models import DetectJob
from bot.jobs.base import Later


class BlockingPoller:
    """For jobs submitted in the same run that waits for them: DETECT_TIMEOUT counts from now."""

    def __init__(self, api: ImageIntelligenceClient, timeout: float) -> None:
        self._api = api
        self._timeout = timeout

    def result(self, job: DetectJob | str, submitted_at: float) -> DetectJob:
        return self._api.wait_for_job(job, timeout=self._timeout)


class DeferringPoller:
    """`lateness`: how late the queue runs a delayed job, on average; the delays are that much
    shorter, so that polls land on `poll_delay`'s schedule."""

    def __init__(
        self,
        api: ImageIntelligenceClient,
        timeout: float,
        *,
        lateness: float = 0.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._api = api
        self._timeout = timeout
        self._lateness = lateness
        self._clock = clock

    def result(self, job: DetectJob | str, submitted_at: float) -> DetectJob:
        if isinstance(job, DetectJob):
            if job.finished:
                return job
            raise self._later(poll_delay(0.0))  # just submitted: not worth a request yet
        current = self._api.get_detect_job(job)
        if current.finished:
            return current
        elapsed = self._clock() - submitted_at
        if elapsed >= self._timeout:
            raise JobTimeout(job, self._timeout)
        # The last poll is made at the deadline, not after it.
        raise self._later(min(poll_delay(elapsed), self._timeout - elapsed))

    def _later(self, delay: float) -> Later:
        # Never less than half the gap: a busy queue is not late, and a rerun costs a message.
        return Later(max(delay - self._lateness, delay / 2))
