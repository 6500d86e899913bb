"""Where jobs record the steps they have taken: a small map per job id.

`MemoryProgressStore` serves the single process: it remembers the most recent jobs (a job's record
is only read while it runs, and by a shutdown that interrupts it). `RedisProgressStore` serves web
and worker processes sharing Redis: any worker may run the next step of a job.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import redis
from redis.commands.core import Script


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

    def replace(self, step: str, expected: str, value: str) -> bool:
        with self._lock:
            if self._steps.get(step) != expected:
                return False
            self._steps[step] = value
            return True

    def release(self, step: str, expected: str) -> None:
        with self._lock:
            if self._steps.get(step) == expected:
                del self._steps[step]


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


# Compare-and-set on a hash field: ARGV = field, expected, new value ("" deletes), TTL seconds.
_REPLACE = """
if redis.call('hget', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
if ARGV[3] == '' then redis.call('hdel', KEYS[1], ARGV[1])
else redis.call('hset', KEYS[1], ARGV[1], ARGV[3]) end
redis.call('expire', KEYS[1], ARGV[4])
return 1
"""


class _RedisProgress:
    def __init__(self, client: redis.Redis, key: str, ttl: int, replace: Script) -> None:
        self._client = client
        self._key = key
        self._ttl = ttl
        self._replace = replace

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

    def replace(self, step: str, expected: str, value: str) -> bool:
        if not value:
            raise ValueError("an empty value would delete the step")
        return bool(self._replace(keys=[self._key], args=[step, expected, value, self._ttl]))

    def release(self, step: str, expected: str) -> None:
        self._replace(keys=[self._key], args=[step, expected, "", self._ttl])


class RedisProgressStore:
    """Progress shared by every worker: a Redis hash per job, kept a day after its last step, so
    that a job redelivered after it answered (its worker died before the acknowledgement) answers
    nothing more."""

    def __init__(self, client: redis.Redis, *, prefix: str, ttl: int = 86_400) -> None:
        self._client = client
        self._prefix = prefix
        self._ttl = ttl
        self._replace = client.register_script(_REPLACE)

    def of(self, job_id: str) -> _RedisProgress:
        key = f"{self._prefix}:progress:{job_id}"
        return _RedisProgress(self._client, key, self._ttl, self._replace)
