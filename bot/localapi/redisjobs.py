"""Detect jobs kept in Redis, for the embedded API of each worker of a scaled-out bot.

Any worker's embedded API answers for any job, so `/detect job ID`, "Report a mistake" and a poll
continued by another worker find it: finished jobs stay a day. A job's images run in the process
that created it, which holds a lease on the job while they do (renewed every few seconds). When
that process stops (a crash, a SIGKILL, a shutdown that dropped its queue), the lease runs out and
the next process that reads the job takes on the images it still lacks: the images sent as blobs
are kept in Redis until they are done (ten minutes at most), the others are URLs.

Keys, under the bot's namespace: `api:job:<id>` (a hash: "job", the job's JSON without results,
and "image:<n>" per finished image), `api:inputs:<id>` (the blobs), `api:lease:<id>` (the running
process), `api:jobs` (ids by creation time, for search).
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Sequence
from typing import Any, cast

import redis

from bot.imageintelligence.contract import IMAGE_IN_PROGRESS, IMAGE_UNKNOWN_ERROR, JOB_IN_PROGRESS
from bot.localapi.jobs import ImageRecord, Job
from bot.localapi.validation import ImageInput, SearchQuery

logger = logging.getLogger(__name__)

KEEP_SECONDS = 86_400
INPUTS_SECONDS = 600
LEASE_MS = 10_000
SEARCH_LIMIT = 1_000

# Renew our lease on a job, unless another process has taken it: KEYS = lease; ARGV = owner, ms.
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""


class RedisJobStore:
    def __init__(self, client: redis.Redis, *, prefix: str, lease_ms: int = LEASE_MS) -> None:
        self._client = client
        self._prefix = f"{prefix}:api"
        self._lease_ms = lease_ms
        self._owner = uuid.uuid4().hex
        self._renew = client.register_script(_RENEW)
        self._lock = threading.Lock()
        self._running: dict[str, int] = {}  # job id -> images this process still has to finish
        self._stop = threading.Event()
        self._renewer = threading.Thread(target=self._keep_leases, name="job-leases", daemon=True)
        self._renewer.start()

    def _key(self, kind: str, job_id: str) -> str:
        return f"{self._prefix}:{kind}:{job_id}"

    def add(self, job: Job, inputs: Sequence[ImageInput]) -> dict[str, Any]:
        meta = {
            "id": job.id,
            "createdAt": job.created_at,
            "classes": list(job.classes),
            "customId": job.custom_id,
            "feedId": job.feed_id,
            "images": [{"id": i.id, "url": i.url, "customId": i.custom_id} for i in job.images],
        }
        blobs = {
            str(n): image.source
            for n, image in enumerate(inputs)
            if isinstance(image.source, bytes)
        }
        self._take(job.id, len(job.images))
        pipe = self._client.pipeline()
        pipe.hset(self._key("job", job.id), "job", json.dumps(meta))
        pipe.expire(self._key("job", job.id), KEEP_SECONDS)
        if blobs:
            pipe.hset(self._key("inputs", job.id), mapping=blobs)  # type: ignore[arg-type]
            pipe.expire(self._key("inputs", job.id), INPUTS_SECONDS)
        pipe.set(self._key("lease", job.id), self._owner, px=self._lease_ms)
        pipe.zadd(f"{self._prefix}:jobs", {job.id: job.created_at})
        pipe.zremrangebyscore(f"{self._prefix}:jobs", 0, job.created_at - KEEP_SECONDS * 1000)
        pipe.execute()
        return job.to_json()

    def remove(self, job: Job) -> None:
        with self._lock:
            self._running.pop(job.id, None)
        self._client.delete(*(self._key(kind, job.id) for kind in ("job", "inputs", "lease")))
        self._client.zrem(f"{self._prefix}:jobs", job.id)

    def finish_image(
        self,
        job: Job,
        index: int,
        status: str,
        objects: list[dict[str, Any]],
        error: str | None = None,
    ) -> None:
        result = json.dumps({"status": status, "objects": objects, "error": error})
        pipe = self._client.pipeline()
        pipe.hset(self._key("job", job.id), f"image:{index}", result)
        pipe.expire(self._key("job", job.id), KEEP_SECONDS)
        pipe.execute()
        with self._lock:
            left = self._running.get(job.id, 0) - 1
            if left > 0:
                self._running[job.id] = left
                return
            self._running.pop(job.id, None)
        stored = self._load(job.id)
        if stored is not None and stored.status != JOB_IN_PROGRESS:
            self._client.delete(self._key("inputs", job.id), self._key("lease", job.id))

    def get(self, job_id: str) -> dict[str, Any] | None:
        job = self._load(job_id)
        return None if job is None else job.to_json()

    def exists(self, job_id: str) -> bool:
        return bool(self._client.exists(self._key("job", job_id)))

    def search(self, query: SearchQuery) -> list[dict[str, Any]]:
        ids = cast(list[bytes], self._client.zrevrange(f"{self._prefix}:jobs", 0, SEARCH_LIMIT - 1))
        jobs = (self._load(job_id.decode()) for job_id in ids)
        return [job.to_json() for job in jobs if job is not None and job.matches(query)]

    def orphaned(self, job_id: str) -> tuple[Job, list[tuple[int, ImageInput]]] | None:
        if not self._client.set(
            self._key("lease", job_id), self._owner, nx=True, px=self._lease_ms
        ):
            return None  # its process is running it
        job = self._load(job_id)
        if job is None or job.status != JOB_IN_PROGRESS:
            self._client.delete(self._key("lease", job_id))
            return None
        blobs = self._client.hgetall(self._key("inputs", job_id))
        left = []
        for index, image in enumerate(job.images):
            if image.status != IMAGE_IN_PROGRESS:
                continue
            source: str | bytes | None = image.url
            if image.url.startswith("blob:"):
                source = blobs.get(str(index).encode())
            if source is None:  # kept too long: the blob is gone
                self.finish_image(job, index, IMAGE_UNKNOWN_ERROR, [], "its worker stopped")
                continue
            left.append((index, ImageInput(source=source, custom_id=image.custom_id)))
        logger.warning("took on %d image(s) of job %s: its worker stopped", len(left), job_id)
        self._take(job_id, len(left))
        return job, left

    def close(self) -> None:
        self._stop.set()
        self._renewer.join()

    def _take(self, job_id: str, images: int) -> None:
        if images:
            with self._lock:
                self._running[job_id] = self._running.get(job_id, 0) + images

    def _load(self, job_id: str) -> Job | None:
        fields = self._client.hgetall(self._key("job", job_id))
        raw = fields.get(b"job")
        if raw is None:
            return None
        meta = json.loads(raw)
        images = []
        for index, image in enumerate(meta["images"]):
            record = ImageRecord(id=image["id"], url=image["url"], custom_id=image["customId"])
            done = fields.get(f"image:{index}".encode())
            if done is not None:
                result = json.loads(done)
                record.status, record.objects = result["status"], result["objects"]
                record.error = result["error"]
            images.append(record)
        return Job(
            id=meta["id"],
            created_at=meta["createdAt"],
            classes=tuple(meta["classes"]),
            custom_id=meta["customId"],
            feed_id=meta["feedId"],
            images=images,
        )

    def _keep_leases(self) -> None:
        while not self._stop.wait(self._lease_ms / 3000):
            with self._lock:
                running = list(self._running)
            for job_id in running:
                try:
                    lease = self._key("lease", job_id)
                    self._renew(keys=[lease], args=[self._owner, self._lease_ms])
                except redis.RedisError as exc:
                    logger.warning("could not renew the lease on job %s: %s", job_id, exc)
