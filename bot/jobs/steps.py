"""A job's journal: the steps with an outside effect (a post, an upload, an API job) that it has taken,
so that a job run twice (a crash, a redelivery, a poll that runs it again) takes each of them once.

A journal maps a step's name to a `Step`: being taken by a run (`TAKING`), taken (`DONE`, with what it
left: a message's ts, an API job, the plan), or never to be taken (`ENDED`: the job was cut short).
`take_once` takes a step through it. `MemoryJournals` serve the single process; `RedisJournals` serve
web and worker processes sharing Redis, where any worker may run a job's next step.

A run that cannot go on now raises `RunAgain`: the queue runs the job again after the delay, and
no thread waits meanwhile.
"""

from __future__ import annotations

import enum
import json
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, cast

import redis
from redis.commands.core import Script

from bot.sharedredis import delete_matching

RECHECK_TAKING = 1.0  # seconds before a run looks again at a step another run is taking
JOURNAL_SECONDS = 86_400  # a Redis journal lasts a day after its last step


class RunAgain(Exception):
    """Run the job again in `delay` seconds (a poll of an API job still running, a step another run
    is taking): both queues reschedule it, with no thread waiting."""

    def __init__(self, delay: float) -> None:
        super().__init__(f"run again in {delay:.3f} s")
        self.delay = delay


class State(enum.Enum):
    TAKING = "taking"
    DONE = "done"
    ENDED = "ended"


@dataclass(frozen=True)
class Step:
    state: State
    value: Any = None  # DONE: what the step left, as JSON data (a ts, the plan, an API job)
    run: str = ""  # TAKING: the run taking it
    since: float = 0.0  # TAKING: when it started, UNIX time

    def encode(self) -> str:
        data: dict[str, Any] = {"state": self.state.value}
        if self.state is State.DONE:
            data["value"] = self.value
        elif self.state is State.TAKING:
            data.update(run=self.run, since=self.since)
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def decode(cls, text: str | bytes) -> Step:
        data = json.loads(text)
        return cls(
            State(data["state"]), data.get("value"), data.get("run", ""), data.get("since", 0.0)
        )


def done(value: Any = None) -> Step:
    return Step(State.DONE, value)


ENDED = Step(State.ENDED)


class Journal(Protocol):
    """One job's steps."""

    def get(self, name: str) -> Step | None: ...

    def claim(self, name: str, step: Step) -> bool:
        """Record `step` unless the step is recorded already: True only for the caller that
        recorded it, which alone may take the step."""
        ...

    def set(self, name: str, step: Step) -> None: ...

    def replace(self, name: str, expected: Step, step: Step) -> bool:
        """Record `step` if the step still holds `expected`; whether it did."""
        ...

    def release(self, name: str, expected: Step) -> None:
        """Forget the step if it still holds `expected`, so that it may be taken again."""
        ...


class Journals(Protocol):
    def of(self, team_id: str, job_id: str) -> Journal: ...

    def forget(self, team_id: str) -> None:
        """Delete the journals of every job of the workspace."""
        ...


def take_once(
    journal: Journal,
    name: str,
    act: Callable[[], Any],
    *,
    dead_after: float,
    clock: Callable[[], float] = time.time,
) -> Step:
    """Take the step `name` once, however many runs try: `act` takes it and returns what to record.

    A run records that it is taking the step first; if `act` raises (Slack's turn for the call comes
    later, say), the step is freed for the next try. A run that finds the step being taken by
    another leaves it to that run while it may still be alive (for `dead_after` seconds:
    WORKER_DEAD_AFTER) and is run again soon; after that, the other run died while taking it, and
    this run takes it. (No call waits out a rate limit while taking a step, so a run dies in the
    middle of a step only during the one call that takes it: the job's own records are trusted, and
    no history is read to see whether that call went through.) Returns the step as recorded: DONE,
    or ENDED.
    """
    while True:
        mine = Step(State.TAKING, run=uuid.uuid4().hex, since=clock())
        if not journal.claim(name, mine):
            current = journal.get(name)
            if current is None:  # freed meanwhile
                continue
            if current.state is not State.TAKING:
                return current
            age = clock() - current.since
            if age < dead_after:
                # Back soon: the other run usually takes the step in well under a second.
                raise RunAgain(min(dead_after - age, RECHECK_TAKING))
            if not journal.replace(name, current, mine):
                continue
        try:
            value = act()
        except BaseException:
            journal.release(name, mine)
            raise
        journal.set(name, done(value))
        return done(value)


class _MemoryJournal:
    def __init__(self, steps: dict[str, Step], lock: threading.Lock) -> None:
        self._steps = steps
        self._lock = lock

    def get(self, name: str) -> Step | None:
        with self._lock:
            return self._steps.get(name)

    def claim(self, name: str, step: Step) -> bool:
        with self._lock:
            if name in self._steps:
                return False
            self._steps[name] = step
            return True

    def set(self, name: str, step: Step) -> None:
        with self._lock:
            self._steps[name] = step

    def replace(self, name: str, expected: Step, step: Step) -> bool:
        with self._lock:
            if self._steps.get(name) != expected:
                return False
            self._steps[name] = step
            return True

    def release(self, name: str, expected: Step) -> None:
        with self._lock:
            if self._steps.get(name) == expected:
                del self._steps[name]


class MemoryJournals:
    """The single process's journals: the most recent jobs' (a journal is only read while its job
    runs, and by a shutdown that interrupts it)."""

    def __init__(self, remember: int = 10_000) -> None:
        self._jobs: OrderedDict[tuple[str, str], dict[str, Step]] = OrderedDict()
        self._remember = remember
        self._lock = threading.Lock()

    def of(self, team_id: str, job_id: str) -> Journal:
        with self._lock:
            steps = self._jobs.get((team_id, job_id))
            if steps is None:
                steps = self._jobs[team_id, job_id] = {}
                if len(self._jobs) > self._remember:
                    self._jobs.popitem(last=False)
            return _MemoryJournal(steps, self._lock)

    def forget(self, team_id: str) -> None:
        with self._lock:
            for key in [key for key in self._jobs if key[0] == team_id]:
                del self._jobs[key]


# Compare-and-set on a hash field: ARGV = field, expected, new value ("" deletes), TTL seconds.
_REPLACE = """
if redis.call('hget', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
if ARGV[3] == '' then redis.call('hdel', KEYS[1], ARGV[1])
else redis.call('hset', KEYS[1], ARGV[1], ARGV[3]) end
redis.call('expire', KEYS[1], ARGV[4])
return 1
"""


class _RedisJournal:
    """One run's view of a job's journal: read whole at the first `get` (one round trip), then
    kept up to date with what this run writes, and with what it finds when a claim fails."""

    def __init__(self, client: redis.Redis, key: str, replace: Script) -> None:
        self._client = client
        self._key = key
        self._replace = replace
        self._steps: dict[str, Step] | None = None

    def get(self, name: str) -> Step | None:
        if self._steps is None:
            stored = cast(dict[bytes, bytes], self._client.hgetall(self._key))
            self._steps = {k.decode(): Step.decode(v) for k, v in stored.items()}
        return self._steps.get(name)

    def claim(self, name: str, step: Step) -> bool:
        pipe = self._client.pipeline(transaction=False)
        pipe.hsetnx(self._key, name, step.encode())
        pipe.expire(self._key, JOURNAL_SECONDS)
        pipe.hget(self._key, name)
        claimed, _, current = pipe.execute()
        self._seen(name, current)
        return bool(claimed)

    def set(self, name: str, step: Step) -> None:
        pipe = self._client.pipeline(transaction=False)
        pipe.hset(self._key, name, step.encode())
        pipe.expire(self._key, JOURNAL_SECONDS)
        pipe.execute()
        self._seen(name, step.encode())

    def replace(self, name: str, expected: Step, step: Step) -> bool:
        return self._swap(name, expected, step.encode())

    def release(self, name: str, expected: Step) -> None:
        self._swap(name, expected, "")

    def _swap(self, name: str, expected: Step, value: str) -> bool:
        pipe = self._client.pipeline(transaction=False)
        args: list[str | int] = [name, expected.encode(), value, JOURNAL_SECONDS]
        self._replace(keys=[self._key], args=args, client=pipe)
        pipe.hget(self._key, name)
        swapped, current = pipe.execute()
        self._seen(name, current)
        return bool(swapped)

    def _seen(self, name: str, value: bytes | str | None) -> None:
        if self._steps is None:
            return  # read whole when first asked
        if value is None:
            self._steps.pop(name, None)
        else:
            self._steps[name] = Step.decode(value)


class RedisJournals:
    """Journals shared by every worker: a Redis hash per job under its team, kept a day after its
    last step, so that a job redelivered after it answered (its worker died before the
    acknowledgement) answers nothing more."""

    def __init__(self, client: redis.Redis, *, prefix: str) -> None:
        self._client = client
        self._prefix = prefix
        self._replace = client.register_script(_REPLACE)

    def of(self, team_id: str, job_id: str) -> Journal:
        key = f"{self._prefix}:journal:{team_id}:{job_id}"
        return _RedisJournal(self._client, key, self._replace)

    def forget(self, team_id: str) -> None:
        delete_matching(self._client, f"{self._prefix}:journal:{team_id}:*")
