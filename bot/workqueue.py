"""A bounded pool for the slow work behind Slack's 3-second acks.

Listeners ack first and submit a `Task`; the queue runs it on one of `workers` threads. A burst beyond the
workers waits in the queue (up to `capacity` tasks in all); past that, `submit` says so at once, so the
caller can tell the user instead of dropping the work silently. Keys de-duplicate work that Slack delivers
twice (its retries carry the same message). On shutdown the queue stops taking work, lets the tasks in
flight finish within a grace period, and tells each task it could not finish, exactly once.
"""

from __future__ import annotations

import enum
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

logger = logging.getLogger(__name__)


class Submitted(enum.Enum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    BUSY = "busy"
    STOPPING = "stopping"


class Task:
    """One unit of work: `run` does it; `interrupted` tells the user it was cut short by a shutdown.

    `claim()` decides, once, whether the task itself or the shutdown gets to answer the user.
    """

    def __init__(
        self,
        name: str,
        run: Callable[[Task], None],
        interrupted: Callable[[], None] | None = None,
        key: str | None = None,
    ) -> None:
        self.name = name
        self.key = key
        self._run = run
        self._interrupted = interrupted
        self._lock = threading.Lock()
        self._answered = False

    def claim(self) -> bool:
        """True for the first caller only: it, and no one else, may post the final answer."""
        with self._lock:
            if self._answered:
                return False
            self._answered = True
            return True

    def run(self) -> None:
        self._run(self)

    def interrupt(self) -> None:
        if self._interrupted is not None and self.claim():
            self._interrupted()


class WorkQueue:
    def __init__(self, workers: int, capacity: int, *, remember_keys: int = 10_000) -> None:
        if workers < 1 or capacity < workers:
            raise ValueError("need at least one worker and a capacity of at least `workers`")
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="detect")
        self._capacity = capacity
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending: dict[Task, Future[None]] = {}
        self._keys: OrderedDict[str, None] = OrderedDict()
        self._remember_keys = remember_keys
        self._accepting = True

    def submit(self, task: Task) -> Submitted:
        with self._lock:
            if not self._accepting:
                return Submitted.STOPPING
            if task.key is not None and task.key in self._keys:
                return Submitted.DUPLICATE
            if len(self._pending) >= self._capacity:
                return Submitted.BUSY
            if task.key is not None:
                self._keys[task.key] = None
                if len(self._keys) > self._remember_keys:
                    self._keys.popitem(last=False)
            self._pending[task] = self._executor.submit(self._run, task)
        return Submitted.ACCEPTED

    @property
    def stopped(self) -> bool:
        with self._lock:
            return not self._accepting

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def _run(self, task: Task) -> None:
        try:
            task.run()
        except Exception:
            logger.exception("task %s failed", task.name)
        finally:
            with self._lock:
                self._pending.pop(task, None)
                self._idle.notify_all()

    def join(self, timeout: float | None = None) -> bool:
        """Wait until no task is pending; False if `timeout` ran out first."""
        with self._lock:
            return self._idle.wait_for(lambda: not self._pending, timeout)

    def shutdown(self, grace: float) -> int:
        """Stop taking work, wait up to `grace` seconds, interrupt what is left; returns how many were."""
        with self._lock:
            self._accepting = False
        finished = self.join(grace)
        with self._lock:
            left = list(self._pending)
        for task in left:
            try:
                task.interrupt()
            except Exception:
                logger.exception("could not tell the user that task %s was interrupted", task.name)
        self._executor.shutdown(wait=finished, cancel_futures=True)
        with self._lock:
            for task, future in list(self._pending.items()):
                if future.cancelled():
                    del self._pending[task]
            self._idle.notify_all()
        if left:
            logger.warning("shut down with %d unfinished task(s)", len(left))
        return len(left)
