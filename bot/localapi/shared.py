"""The embedded API of scaled-out worker processes: jobs kept in Redis, each image a Dramatiq message.

Every worker process runs the embedded API in-process for its own jobs (a PaaS's worker dynos
cannot reach one another), so what they share is Redis:

- `RedisJobStore`: a job's description and its finished images, kept a day, so that
  `/detect job ID`, "Report a mistake" and a poll continued by another worker find it. The bytes
  of blob images wait in Redis for their turn (BLOB_SECONDS at most), never inside a message.
- `DramatiqImages`: one message per image on the bot's broker, run by any worker process: `blob`
  images on the `images` queue, on LOCAL_API_WORKERS threads of its own (a second Dramatiq
  Worker, so detection keeps its own memory and CPU budget beside the bot's jobs), `url` images
  on the `image-links` queue, on LINK_THREADS threads of a third (links to a slow server never
  delay an upload). A process killed mid-image leaves the message to Dramatiq, which puts it back
  on the queue once its heartbeat is stale; an image whose runs keep killing their process is
  given up after MAX_DELIVERIES.

Keys, under the broker's namespace: `api:job:<id>` (a hash: "job", the job's JSON without
results; "image:<n>" per finished image; "tries:<n>" per image run), `api:blob:<id>:<n>` (the
bytes), `api:jobs` (ids by creation time, for search), `api:feed:<feedId>` (a feed's job ids, so
that a workspace that uninstalls the bot can be forgotten).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast

import redis
from dramatiq import Actor, Worker
from dramatiq.brokers.redis import RedisBroker

from bot.imageintelligence.contract import IMAGE_IN_PROGRESS, IMAGE_UNKNOWN_ERROR
from bot.localapi.analysis import Analyser, fetch_deadline
from bot.localapi.bodies import ImageInput, SearchQuery
from bot.localapi.errors import unavailable
from bot.localapi.jobs import Analysis, ApiJob, ImageRecord
from bot.localapi.work import LINK_THREADS
from bot.queue.redis import WORKER_TIMEOUT_MS

logger = logging.getLogger(__name__)

KEEP_SECONDS = 86_400
BLOB_SECONDS = 600
SEARCH_LIMIT = 1_000
MAX_DELIVERIES = 3
QUEUE = "images"
ACTOR = "detect_image"
LINKS_QUEUE = "image-links"
LINKS_ACTOR = "fetch_image"
STOP_MS = 2_000  # then images still running are left to Dramatiq's redelivery


class RedisJobStore:
    """The `jobs.JobStore` of worker processes. Failures to reach Redis answer 503."""

    def __init__(self, client: redis.Redis, *, prefix: str) -> None:
        self._client = client
        self._prefix = f"{prefix}:api"

    def __repr__(self) -> str:
        return f"RedisJobStore(prefix={self._prefix!r})"

    def add(self, job: ApiJob, inputs: Sequence[ImageInput]) -> dict[str, Any]:
        meta = {
            "id": job.id,
            "createdAt": job.created_at,
            "classes": list(job.classes),
            "customId": job.custom_id,
            "feedId": job.feed_id,
            "images": [{"id": i.id, "url": i.url, "customId": i.custom_id} for i in job.images],
        }
        with self._reachable():
            pipe = self._client.pipeline()
            pipe.hset(self._job_key(job.id), "job", json.dumps(meta))
            pipe.expire(self._job_key(job.id), KEEP_SECONDS)
            for index, image in enumerate(inputs):
                if isinstance(image.source, bytes):
                    pipe.set(self._blob_key(job.id, index), image.source, ex=BLOB_SECONDS)
            if job.feed_id is not None:
                pipe.sadd(self._feed_key(job.feed_id), job.id)
                pipe.expire(self._feed_key(job.feed_id), KEEP_SECONDS)
            pipe.zadd(self._index_key, {job.id: job.created_at})
            pipe.zremrangebyscore(self._index_key, 0, job.created_at - KEEP_SECONDS * 1000)
            pipe.execute()
        return job.to_json()

    def remove(self, job_id: str) -> None:
        """Forget the job (its blobs expire on their own)."""
        with self._reachable():
            self._client.delete(self._job_key(job_id))
            self._client.zrem(self._index_key, job_id)

    def finish_image(self, job_id: str, index: int, result: Analysis) -> None:
        """Raises redis.RedisError: the image's message is then run again."""
        body = {"status": result.status, "objects": result.objects, "error": result.error}
        pipe = self._client.pipeline()
        pipe.hset(self._job_key(job_id), f"image:{index}", json.dumps(body))
        pipe.expire(self._job_key(job_id), KEEP_SECONDS)
        pipe.delete(self._blob_key(job_id, index))
        pipe.execute()

    def get(self, job_id: str) -> dict[str, Any] | None:
        with self._reachable():
            job = self.load(job_id)
        return None if job is None else job.to_json()

    def exists(self, job_id: str) -> bool:
        with self._reachable():
            return bool(self._client.exists(self._job_key(job_id)))

    def search(self, query: SearchQuery) -> list[dict[str, Any]]:
        with self._reachable():
            ids = cast(list[bytes], self._client.zrevrange(self._index_key, 0, SEARCH_LIMIT - 1))
            jobs = [self.load(job_id.decode()) for job_id in ids]
        return [job.to_json() for job in jobs if job is not None and job.matches(query)]

    def forget_feed(self, feed_id: str) -> int:
        with self._reachable():
            ids = [
                i.decode() for i in cast(set[bytes], self._client.smembers(self._feed_key(feed_id)))
            ]
            pipe = self._client.pipeline()
            for job_id in ids:
                pipe.delete(self._job_key(job_id))
                pipe.zrem(self._index_key, job_id)
            pipe.delete(self._feed_key(feed_id))
            pipe.execute()
        return len(ids)

    def load(self, job_id: str) -> ApiJob | None:
        fields = cast(dict[bytes, bytes], self._client.hgetall(self._job_key(job_id)))
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
                record.result = Analysis(result["status"], result["objects"], result["error"])
            images.append(record)
        return ApiJob(
            id=meta["id"],
            created_at=meta["createdAt"],
            classes=tuple(meta["classes"]),
            custom_id=meta["customId"],
            feed_id=meta["feedId"],
            images=images,
        )

    def blob(self, job_id: str, index: int) -> bytes | None:
        return cast(bytes | None, self._client.get(self._blob_key(job_id, index)))

    def delivered(self, job_id: str, index: int) -> int:
        """Count one more run of the image; how many there have been."""
        return int(self._client.hincrby(self._job_key(job_id), f"tries:{index}", 1))

    @property
    def _index_key(self) -> str:
        return f"{self._prefix}:jobs"

    def _job_key(self, job_id: str) -> str:
        return f"{self._prefix}:job:{job_id}"

    def _feed_key(self, feed_id: str) -> str:
        return f"{self._prefix}:feed:{feed_id}"

    def _blob_key(self, job_id: str, index: int) -> str:
        return f"{self._prefix}:blob:{job_id}:{index}"

    @contextmanager
    def _reachable(self) -> Iterator[None]:
        try:
            yield
        except redis.RedisError as exc:
            logger.warning("the job store is unreachable: %s", type(exc).__name__)
            raise unavailable("the job store cannot be reached; try again shortly") from None


class DramatiqImages:
    """The `work.ImageWork` of worker processes: the images of every process's jobs, `blob`
    ones run on `workers` threads of this one, `url` ones on LINK_THREADS others."""

    def __init__(
        self, analyser: Analyser, store: RedisJobStore, broker: RedisBroker, workers: int
    ) -> None:
        self._analyser = analyser
        self._store = store
        self._blobs = Actor(
            self._run, broker=broker, actor_name=ACTOR, queue_name=QUEUE, priority=0, options={}
        )
        self._links = Actor(
            self._run,
            broker=broker,
            actor_name=LINKS_ACTOR,
            queue_name=LINKS_QUEUE,
            priority=0,
            options={},
        )
        self._workers = [
            Worker(broker, queues={queue}, worker_threads=threads, worker_timeout=WORKER_TIMEOUT_MS)
            for queue, threads in ((QUEUE, workers), (LINKS_QUEUE, LINK_THREADS))
        ]
        for worker in self._workers:
            worker.start()
        self._closed = False

    def start(self, job: ApiJob, inputs: Sequence[ImageInput]) -> None:
        if self._closed:
            raise unavailable("the API is shutting down")
        try:
            for index, image in enumerate(job.images):
                (self._blobs if image.blob else self._links).send(job.id, index)
        except redis.RedisError:
            raise unavailable("the job store cannot be reached; try again shortly") from None

    def close(self) -> None:
        self._closed = True
        for worker in self._workers:
            worker.stop(timeout=STOP_MS)

    def _run(self, job_id: str, index: int) -> None:
        job = self._store.load(job_id)
        if job is None or job.images[index].result.status != IMAGE_IN_PROGRESS:
            return  # expired, or done by a run whose acknowledgement was lost
        image = job.images[index]
        tries = self._store.delivered(job_id, index)
        source = self._store.blob(job_id, index) if image.blob else image.url
        if tries > MAX_DELIVERIES:
            logger.error("image %d of job %s: giving up after %d runs", index, job_id, tries - 1)
            result = Analysis(IMAGE_UNKNOWN_ERROR, error="its analysis kept stopping its worker")
        elif source is None:
            result = Analysis(IMAGE_UNKNOWN_ERROR, error="it waited too long for its turn")
        else:
            result = self._analyser.run(job.classes, source, fetch_deadline(job.created_at))
        self._store.finish_image(job_id, index, result)
