"""Waiting for a detect job on the API without holding a thread: poll once, and while the API job runs,
have the queue run the job again at the next poll time (`RunAgain`)."""

from __future__ import annotations

import time
from collections.abc import Callable

from bot.imageintelligence.client import ImageIntelligenceClient, poll_delay
from bot.imageintelligence.errors import JobTimeout
from bot.imageintelligence.models import DetectJob
from bot.jobs.steps import RunAgain


def finished(
    api: ImageIntelligenceClient,
    job: DetectJob | str,
    submitted_at: float,
    timeout: float,
    *,
    clock: Callable[[], float] = time.time,
) -> DetectJob:
    """The finished API job (given as just submitted, or by id), polled on `poll_delay`'s schedule;
    RunAgain at the next poll time while it runs; JobTimeout once it has run for `timeout` seconds
    since `submitted_at` (UNIX time)."""
    if isinstance(job, DetectJob):
        if job.finished:
            return job
        raise RunAgain(poll_delay(0.0))  # just submitted: not worth a request yet
    current = api.get_detect_job(job)
    if current.finished:
        return current
    elapsed = clock() - submitted_at
    if elapsed >= timeout:
        raise JobTimeout(job, timeout)
    # The last poll is made at the deadline, not after it.
    raise RunAgain(min(poll_delay(elapsed), timeout - elapsed))
