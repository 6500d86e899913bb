"""Waiting for a detect job on the API.

`BlockingPoller` (the single process) polls on `poll_delay`'s schedule inside the thread, as the API
client's `wait_for_job` does.
"""

from __future__ import annotations

from bot.imageintelligence import DetectJob, ImageIntelligenceClient


class BlockingPoller:
    """For jobs submitted in the same run that waits for them: DETECT_TIMEOUT counts from now."""

    def __init__(self, api: ImageIntelligenceClient, timeout: float) -> None:
        self._api = api
        self._timeout = timeout

    def result(self, job: DetectJob | str, submitted_at: float) -> DetectJob:
        return self._api.wait_for_job(job, timeout=self._timeout)
