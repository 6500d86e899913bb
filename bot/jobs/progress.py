"""Where jobs record the steps they have taken: a small map per job id.

`MemoryProgressStore` serves the single process: it remembers the most recent jobs (a job's record
is only read while it runs, and by a shutdown that interrupts it). `RedisProgressStore` serves web
and worker processes sharing Redis: any worker may run the next step of a job.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import redis


class _MemoryProgress:
    def __init__(self, steps: dict[str, str], lock: threading.Lock) -> None:
        self._steps = steps
        self._lock = lock

    def get(self, step: str) -> str | None:
        with self._lock:
            return self._steps.get(step)

    def claim(self, step: str, value: str) -> bool:
        with self._lock:
            if step in self._steps:
                return False
            self._steps[step] = value
            return True

    def set(self, step: str, value: str) -> None:
        with self._lock:
            self._steps[step] = value


class MemoryProgressStore:
    def __init__(self, remember: int = 10_000) -> None:
        self._jobs: OrderedDict[str, dict[str, str]] = OrderedDict()
        self._remember = remember
        self._lock = threading.Lock()

    def of(self, job_id: str) -> _MemoryProgress:
        with self._lock:
            steps = self._jobs.get(job_id)
            if steps is None:
                steps = self._jobs[job_id] = {}
                if len(self._jobs) > self._remember:
                    self._jobs.popitem(last=False)
            return _MemoryProgress(steps, self._lock)


class _RedisProgress:
    def __init__(self, client: redis.Redis, key: str, ttl: int) -> None:
        self._client = client
        self._key = key
        self._ttl = ttl

    def get(self, step: str) -> str | None:
        value = self._client.hget(self._key, step)
        return value.decode() if isinstance(value, bytes) else value

    def claim(self, step: str, value: str) -> bool:
        pipe = self._client.pipeline()
        pipe.hsetnx(self._key, step, value)
        pipe.expire(self._key, self._ttl)
        claimed, _ = pipe.execute()
        return bool(claimed)

    def set(self, step: str, value: str) -> None:
        pipe = self._client.pipeline()
        pipe.hset(self._key, step, value)
        pipe.expire(self._key, self._ttl)
        pipe.execute()


class RedisProgressStore:
    """Progress shared by every worker: a Redis hash per job, kept a day after its last step, so
    that a job redelivered after it answered (its worker died before the acknowledgement) answers
    nothing more."""

    def __init__(self, client: redis.Redis, *, prefix: str, ttl: int = 86_400) -> None:
        self._client = client
        self._prefix = prefix
        self._ttl = ttl

    def of(self, job_id: str) -> _RedisProgress:
        return _RedisProgress(self._client, f"{self._prefix}:progress:{job_id}", self._ttl)
