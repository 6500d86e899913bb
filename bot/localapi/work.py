"""Who runs a job's images: `ThreadedImages`, a bounded pool in this process (no Redis), or
`shared.DramatiqImages`, one Dramatiq message per image that any worker process may run."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from bot.localapi.analysis import Analyser
from bot.localapi.bodies import ImageInput
from bot.localapi.errors import unavailable
from bot.localapi.jobs import ApiJob, JobStore

logger = logging.getLogger(__name__)


class ImageWork(Protocol):
    def start(self, job: ApiJob, inputs: Sequence[ImageInput]) -> None:
        """Have the images of `job` (already in the store) analysed, and their results written
        to the store. Raises ApiError 503, having started none, once closed."""
        ...

    def close(self) -> None: ...


class ThreadedImages:
    """`workers` threads of this process; the images wait in memory for their turn."""

    def __init__(self, analyser: Analyser, store: JobStore, workers: int) -> None:
        self._analyser = analyser
        self._store = store
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="localapi-detect")

    def start(self, job: ApiJob, inputs: Sequence[ImageInput]) -> None:
        try:
            for index, image in enumerate(inputs):
                self._pool.submit(self._run, job.id, job.classes, index, image.source)
        except RuntimeError:  # the pool is shut down: close() was called
            raise unavailable("the API is shutting down") from None

    def close(self) -> None:
        """Queued images are dropped, running ones finish."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _run(self, job_id: str, classes: Sequence[str], index: int, source: str | bytes) -> None:
        self._store.finish_image(job_id, index, self._analyser.run(classes, source))
