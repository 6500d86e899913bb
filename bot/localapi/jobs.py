"""Detect jobs: their state, their v2 JSON, and where they are kept.

`MemoryJobStore` keeps them in this process (bounded); `redisjobs.RedisJobStore` in Redis, shared by
the workers of a scaled-out bot, each running the embedded API in-process.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.imageintelligence.contract import (
    IMAGE_IN_PROGRESS,
    IMAGE_OK,
    JOB_ALL_ERROR,
    JOB_IN_PROGRESS,
    JOB_OK,
    JOB_PARTIAL_ERROR,
)
from bot.localapi.errors import HttpError
from bot.localapi.tiles import Detection
from bot.localapi.validation import DetectRequest, ImageInput, SearchQuery
from bot.vocabulary import labels_for


@dataclass
class ImageRecord:
    id: str
    url: str  # the requested URL, or "blob:<id>" for an uploaded blob
    custom_id: str | None
    status: str = IMAGE_IN_PROGRESS
    objects: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None  # why it failed, when it did

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.id, "url": self.url}
        if self.custom_id is not None:
            body["customId"] = self.custom_id
        body["status"] = self.status
        body["objects"] = self.objects
        if self.error is not None:
            body["error"] = self.error
        return body


@dataclass
class Job:
    id: str
    created_at: int  # UNIX ms
    classes: tuple[str, ...]
    custom_id: str | None
    feed_id: str | None
    images: list[ImageRecord]

    @classmethod
    def new(cls, request: DetectRequest, created_at: int) -> Job:
        images = []
        for image in request.images:
            image_id = str(uuid.uuid4())
            url = image.source if isinstance(image.source, str) else f"blob:{image_id}"
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
        statuses = [image.status for image in self.images]
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
                (image.objects[index]["confidence"], image)
                for image in self.images
                if image.objects and image.objects[index]["verdict"]
            ]
            if not found:
                continue
            confidence, best = max(found, key=lambda pair: pair[0])
            item: dict[str, Any] = {"id": best.id, "url": best.url, "confidence": confidence}
            if best.custom_id is not None:
                item["customId"] = best.custom_id
            results.append({"class": name, "image": item, "hitl": False})
        return results


def describe(detections: Sequence[Detection], classes: Sequence[str]) -> list[dict[str, Any]]:
    """One result object per requested class, in order, with the boxes that count for it."""
    objects = []
    for name in classes:
        labels = labels_for(name)
        if labels is None:
            objects.append(
                {
                    "class": name,
                    "confidence": 0.0,
                    "verdict": False,
                    "supported": False,
                    "boundingBoxes": [],
                }
            )
            continue
        matches = sorted(
            (d for d in detections if d.label in labels), key=lambda d: d.confidence, reverse=True
        )
        objects.append(
            {
                "class": name,
                "confidence": round(matches[0].confidence, 4) if matches else 0.0,
                "verdict": bool(matches),
                "boundingBoxes": [_box(d) for d in matches],
            }
        )
    return objects


def _box(detection: Detection) -> dict[str, Any]:
    x_min, y_min, x_max, y_max = (round(v) for v in detection.box)
    return {
        "xMin": x_min,
        "yMin": y_min,
        "xMax": x_max,
        "yMax": y_max,
        "confidence": round(detection.confidence, 4),
    }


class JobStore(Protocol):
    def add(self, job: Job, inputs: Sequence[ImageInput]) -> dict[str, Any]:
        """Store `job`; its JSON as it is now (JOB_IN_PROGRESS), before any worker touches it.
        `inputs` are its images, kept for whoever must run them if this process cannot."""
        ...

    def remove(self, job: Job) -> None: ...

    def finish_image(
        self,
        job: Job,
        index: int,
        status: str,
        objects: list[dict[str, Any]],
        error: str | None = None,
    ) -> None: ...

    def get(self, job_id: str) -> dict[str, Any] | None: ...

    def exists(self, job_id: str) -> bool: ...

    def search(self, query: SearchQuery) -> list[dict[str, Any]]:
        """Matching jobs, newest first."""
        ...

    def orphaned(self, job_id: str) -> tuple[Job, list[tuple[int, ImageInput]]] | None:
        """The job with the images it still lacks, when the process running them stopped: the
        caller has taken them on and runs them. None when there is nothing to take on."""
        ...

    def close(self) -> None: ...


class MemoryJobStore:
    """At most `max_jobs` jobs; a new job evicts the oldest finished one. When every stored job
    is still running, new ones are refused (503) instead of growing the backlog without bound.
    Its jobs run in this process, so none is ever orphaned."""

    def __init__(self, max_jobs: int) -> None:
        if max_jobs < 1:
            raise ValueError("max_jobs must be at least 1")
        self._max_jobs = max_jobs
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, job: Job, inputs: Sequence[ImageInput]) -> dict[str, Any]:
        with self._lock:
            if len(self._jobs) >= self._max_jobs:
                oldest_finished = next(
                    (key for key, stored in self._jobs.items() if stored.status != JOB_IN_PROGRESS),
                    None,
                )
                if oldest_finished is None:
                    raise HttpError(
                        503,
                        "busy",
                        f"{self._max_jobs} jobs are in progress; try again shortly",
                        headers=[("Retry-After", "1")],
                    )
                del self._jobs[oldest_finished]
            self._jobs[job.id] = job
            return job.to_json()

    def remove(self, job: Job) -> None:
        with self._lock:
            self._jobs.pop(job.id, None)

    def finish_image(
        self,
        job: Job,
        index: int,
        status: str,
        objects: list[dict[str, Any]],
        error: str | None = None,
    ) -> None:
        with self._lock:
            image = job.images[index]
            image.status, image.objects, image.error = status, objects, error

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

    def orphaned(self, job_id: str) -> None:
        return None

    def close(self) -> None:
        pass
