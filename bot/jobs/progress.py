"""Where jobs record the steps they have taken: a small map per job id.

`MemoryProgressStore` serves the single process: it remembers the most recent jobs (a job's record
is only read while it runs, and by a shutdown that interrupts it). `RedisProgressStore` serves web
and worker processes sharing Redis: any worker may run the next step of a job.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import cast

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
    """One run's view of a job's record: read whole at the first `get` (one round trip), then
    kept up to date with what this run writes, and with what it finds when a claim fails."""

    def __init__(self, client: redis.Redis, key: str, ttl: int, replace: Script) -> None:
        self._client = client
        self._key = key
        self._ttl = ttl
        self._replace = replace
        self._steps: dict[str, str] | None = None

    def get(self, step: str) -> str | None:
        if self._steps is None:
            stored = cast(dict[bytes, bytes], self._client.hgetall(self._key))
            self._steps = {k.decode(): v.decode() for k, v in stored.items()}
        return self._steps.get(step)

    def claim(self, step: str, value: str) -> bool:
        pipe = self._client.pipeline(transaction=False)
        pipe.hsetnx(self._key, step, value)
        pipe.expire(self._key, self._ttl)
        pipe.hget(self._key, step)
        claimed, _, current = pipe.execute()
        self._seen(step, current)
        return bool(claimed)

    def set(self, step: str, value: str) -> None:
        pipe = self._client.pipeline(transaction=False)
        pipe.hset(self._key, step, value)
        pipe.expire(self._key, self._ttl)
        pipe.execute()
        self._seen(step, value)

    def replace(self, step: str, expected: str, value: str) -> bool:
        if not value:
            raise ValueError("an empty value would delete the step")
        return self._swap(step, expected, value)

    def release(self, step: str, expected: str) -> None:
        self._swap(step, expected, "")

    def _swap(self, step: str, expected: str, value: str) -> bool:
        pipe = self._client.pipeline(transaction=False)
        self._replace(keys=[self._key], args=[step, expected, value, self._ttl], client=pipe)
        pipe.hget(self._key, step)
        swapped, current = pipe.execute()
        self._seen(step, current)
        return bool(swapped)

    def _seen(self, step: str, value: bytes | str | None) -> None:
        if self._steps is None:
            return  # read whole when first asked
        if value is None:
            self._steps.pop(step, None)
        else:
            self._steps[step] = value.decode() if isinstance(value, bytes) else value


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
