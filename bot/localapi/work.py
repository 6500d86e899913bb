"""Who runs a job's images: `ThreadedImages`, bounded pools in this process (no Redis), or
`shared.DramatiqImages`, one Dramatiq message per image that any worker process may run.

Either way `url` images run on threads of their own (LINK_THREADS), apart from the detector
threads that `blob` images (the bot's Slack uploads) run on: links to a server that stalls hold
only link threads, each until its job's fetch deadline (analysis.JOB_FETCH_SECONDS) at most,
and never delay an upload."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from bot.localapi.analysis import Analyser, fetch_deadline
from bot.localapi.bodies import ImageInput
from bot.localapi.errors import unavailable
from bot.localapi.jobs import ApiJob, JobStore

logger = logging.getLogger(__name__)

LINK_THREADS = 4  # per process: fetching is mostly waiting on the network


class ImageWork(Protocol):
    def start(self, job: ApiJob, inputs: Sequence[ImageInput]) -> None:
        """Have the images of `job` (already in the store) analysed, and their results written
        to the store. Raises ApiError 503, having started none, once closed."""
        ...

    def close(self) -> None: ...


class ThreadedImages:
    """`workers` threads of this process for `blob` images and LINK_THREADS for `url` images;
    the images wait in memory for their turn."""

    def __init__(self, analyser: Analyser, store: JobStore, workers: int) -> None:
        self._analyser = analyser
        self._store = store
        self._blobs = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="localapi-detect")
        self._links = ThreadPoolExecutor(
            max_workers=LINK_THREADS, thread_name_prefix="localapi-url"
        )

    def start(self, job: ApiJob, inputs: Sequence[ImageInput]) -> None:
        fetch_by = fetch_deadline(job.created_at)
        try:
            for index, image in enumerate(inputs):
                pool = self._links if isinstance(image.source, str) else self._blobs
                pool.submit(self._run, job.id, job.classes, index, image.source, fetch_by)
        except RuntimeError:  # the pools are shut down: close() was called
            raise unavailable("the API is shutting down") from None

    def close(self) -> None:
        """Queued images are dropped, running ones finish."""
        self._links.shutdown(wait=False, cancel_futures=True)
        self._blobs.shutdown(wait=True, cancel_futures=True)
        self._links.shutdown(wait=True)

    def _run(
        self,
        job_id: str,
        classes: Sequence[str],
        index: int,
        source: str | bytes,
        fetch_by: float,
    ) -> None:
        self._store.finish_image(job_id, index, self._analyser.run(classes, source, fetch_by))
