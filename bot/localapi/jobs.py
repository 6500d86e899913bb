"""Detect jobs of the embedded API: their state, their v2 JSON, and where they are kept.

`MemoryJobStore` keeps them in this process (bounded); `shared.RedisJobStore` in Redis, where the
embedded API of every worker process finds them.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from bot.imageintelligence.contract import (
    IMAGE_IN_PROGRESS,
    IMAGE_OK,
    JOB_ALL_ERROR,
    JOB_IN_PROGRESS,
    JOB_OK,
    JOB_PARTIAL_ERROR,
)
from bot.localapi.bodies import DetectRequest, ImageInput, SearchQuery
from bot.localapi.errors import ApiError


@dataclass(frozen=True)
class Analysis:
    """What became of one image: its status, one result object per requested class, and why it
    failed when it did."""

    status: str
    objects: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None


@dataclass
class ImageRecord:
    id: str
    url: str  # the requested URL without its query (`kept_url`), or "blob:<id>" for a blob
    custom_id: str | None
    result: Analysis = field(default_factory=lambda: Analysis(IMAGE_IN_PROGRESS))

    @property
    def blob(self) -> bool:
        return self.url.startswith("blob:")

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.id, "url": self.url}
        if self.custom_id is not None:
            body["customId"] = self.custom_id
        body["status"] = self.result.status
        body["objects"] = self.result.objects
        if self.result.error is not None:
            body["error"] = self.result.error
        return body


@dataclass
class ApiJob:
    """A detect job of the embedded API (not to be confused with the bot's own jobs)."""

    id: str
    created_at: int  # UNIX ms
    classes: tuple[str, ...]
    custom_id: str | None
    feed_id: str | None
    images: list[ImageRecord]

    @classmethod
    def new(cls, request: DetectRequest, created_at: int) -> ApiJob:
        images = []
        for image in request.images:
            image_id = str(uuid.uuid4())
            url = kept_url(image.source) if isinstance(image.source, str) else f"blob:{image_id}"
            images.append(ImageRecord(id=image_id, url=url, custom_id=image.custom_id))
        return cls(
            id=str(uuid.uuid4()),
            created_at=created_at,
            classes=request.classes,
            custom_id=request.custom_id,
            feed_id=request.feed_id,
            images=images,
        )

    def matches(self, query: SearchQuery) -> bool:
        return (
            (query.custom_id is None or self.custom_id == query.custom_id)
            and (query.feed_id is None or self.feed_id == query.feed_id)
            and (query.before is None or self.created_at < query.before)
            and (query.after is None or self.created_at > query.after)
        )

    @property
    def status(self) -> str:
        statuses = [image.result.status for image in self.images]
        if IMAGE_IN_PROGRESS in statuses:
            return JOB_IN_PROGRESS
        failed = sum(status != IMAGE_OK for status in statuses)
        if failed == 0:
            return JOB_OK
        return JOB_ALL_ERROR if failed == len(statuses) else JOB_PARTIAL_ERROR

    def to_json(self) -> dict[str, Any]:
        """The DetectJobResponse. It shares the images' `objects` lists, which are replaced
        whole and never mutated, so it stays valid once the store's lock is released."""
        body: dict[str, Any] = {"id": self.id, "createdAt": self.created_at, "status": self.status}
        if self.custom_id is not None:
            body["customId"] = self.custom_id
        if self.feed_id is not None:
            body["feedId"] = self.feed_id
        body["jobResults"] = self._job_results()
        body["imageResults"] = [image.to_json() for image in self.images]
        return body

    def _job_results(self) -> list[dict[str, Any]]:
        """Per class found, the image where it scored best (the spec's shape; no humans here)."""
        results = []
        for index, name in enumerate(self.classes):
            found = [
                (image.result.objects[index]["confidence"], image)
                for image in self.images
                if image.result.objects and image.result.objects[index]["verdict"]
            ]
            if not found:
                continue
            confidence, best = max(found, key=lambda pair: pair[0])
            item: dict[str, Any] = {"id": best.id, "url": best.url, "confidence": confidence}
            if best.custom_id is not None:
                item["customId"] = best.custom_id
            results.append({"class": name, "image": item, "hitl": False})
        return results


class JobStore(Protocol):
    def add(self, job: ApiJob, inputs: Sequence[ImageInput]) -> dict[str, Any]:
        """Keep `job`; its JSON as it is now (JOB_IN_PROGRESS). `inputs` are its images, for a
        store whose images are run by other processes. Raises ApiError 503 when it cannot."""
        ...

    def remove(self, job_id: str) -> None: ...

    def finish_image(self, job_id: str, index: int, result: Analysis) -> None: ...

    def get(self, job_id: str) -> dict[str, Any] | None: ...

    def exists(self, job_id: str) -> bool: ...

    def search(self, query: SearchQuery) -> list[dict[str, Any]]:
        """Matching jobs, newest first."""
        ...

    def forget_feed(self, feed_id: str) -> int:
        """Delete every job of the feed (the bot's: a workspace that uninstalled it); how many."""
        ...


class MemoryJobStore:
    """At most `max_jobs` jobs; a new job evicts the oldest finished one. When every stored job
    is still running, new ones are refused (503) instead of growing the backlog without bound."""

    def __init__(self, max_jobs: int) -> None:
        if max_jobs < 1:
            raise ValueError("max_jobs must be at least 1")
        self._max_jobs = max_jobs
        self._jobs: OrderedDict[str, ApiJob] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, job: ApiJob, inputs: Sequence[ImageInput]) -> dict[str, Any]:
        with self._lock:
            if len(self._jobs) >= self._max_jobs:
                oldest_finished = next(
                    (key for key, stored in self._jobs.items() if stored.status != JOB_IN_PROGRESS),
                    None,
                )
                if oldest_finished is None:
                    raise ApiError(
                        503,
                        "busy",
                        f"{self._max_jobs} jobs are in progress; try again shortly",
                        headers={"Retry-After": "1"},
                    )
                del self._jobs[oldest_finished]
            self._jobs[job.id] = job
            return job.to_json()

    def remove(self, job_id: str) -> None:
        with self._lock:
            self._jobs.pop(job_id, None)

    def finish_image(self, job_id: str, index: int, result: Analysis) -> None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None:
                job.images[index].result = result

    def get(self, job_id: str) -> dict[str, Any] | None:
        with self._lock:
            job = self._jobs.get(job_id)
            return None if job is None else job.to_json()

    def exists(self, job_id: str) -> bool:
        with self._lock:
            return job_id in self._jobs

    def search(self, query: SearchQuery) -> list[dict[str, Any]]:
        with self._lock:
            return [job.to_json() for job in reversed(self._jobs.values()) if job.matches(query)]

    def forget_feed(self, feed_id: str) -> int:
        with self._lock:
            gone = [key for key, job in self._jobs.items() if job.feed_id == feed_id]
            for key in gone:
                del self._jobs[key]
            return len(gone)


def kept_url(url: str) -> str:
    """What a job keeps of a requested URL, and shows: no credentials, query or fragment, which may
    carry a signature or a token (the image itself is fetched with the whole URL)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
