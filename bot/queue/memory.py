"""The single-process queue: a bounded pool for the slow work behind Slack's 3-second acks.

Listeners submit a job and ack; the queue runs it on one of `workers` threads. A burst beyond the
workers waits in the queue (up to `capacity` jobs in all, and each person's and workspace's share of
it: `admission`); past that, `submit` says so at once and the user is told, instead of the work
being dropped silently. Keys de-duplicate work that Slack
delivers twice (its retries carry the same message). A run that raises `RunAgain` (a poll of an API
job still running) is run again after its delay: one scheduler thread keeps every such job until it
is due, so no worker thread waits meanwhile, and the job keeps its place. On shutdown the queue stops taking work, lets the jobs in flight finish within
a grace period, and has each job it could not finish tell its user so (`JobRunner.interrupt`, which
answers only if the job has not answered yet).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor

from bot.blocks.errors import BUSY, RESTARTING, Refusal
from bot.jobs import Job, RunAgain
from bot.queue import Runner, Submitted, refused
from bot.queue.admission import Admission

logger = logging.getLogger(__name__)


class MemoryQueue:
    def __init__(
        self,
        runner: Runner,
        workers: int,
        capacity: int,
        admission: Admission,
        *,
        remember_keys: int = 10_000,
    ) -> None:
        if workers < 1 or capacity < workers:
            raise ValueError("need at least one worker and a capacity of at least `workers`")
        self._runner = runner
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="detect")
        # Refusals are answered off the listener's thread (a listener makes no Web API call),
        # during a shutdown too.
        self._notices = ThreadPoolExecutor(max_workers=1, thread_name_prefix="refused")
        self._capacity = capacity
        self._admission = admission
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending: dict[int, Job] = {}  # every job taken and not finished, by number
        self._queued: dict[int, Future[None]] = {}  # those queued for (or on) a worker thread
        self._later: list[tuple[float, int, Job]] = []  # a heap of those to run again, by when
        self._due = threading.Condition(self._lock)  # wakes the scheduler
        self._scheduler: threading.Thread | None = None  # started by the first job to run again
        self._numbers = itertools.count()
        self._keys: OrderedDict[str, None] = OrderedDict()
        self._remember_keys = remember_keys
        self._accepting = True
        self._closed = False  # past the shutdown's grace: nothing more runs

    def submit(self, job: Job, *, key: str | None = None) -> Submitted:
        with self._lock:
            if not self._accepting:
                outcome, refusal = Submitted.STOPPING, Refusal(RESTARTING)
            elif key is not None and key in self._keys:
                return Submitted.DUPLICATE
            elif len(self._pending) >= self._capacity:
                outcome, refusal = Submitted.BUSY, Refusal(BUSY)
            elif (limited := self._admission.admit(job)) is not None:
                outcome, refusal = Submitted.LIMITED, limited
            else:
                if key is not None:
                    self._keys[key] = None
                    if len(self._keys) > self._remember_keys:
                        self._keys.popitem(last=False)
                number = next(self._numbers)
                self._pending[number] = job
                self._queued[number] = self._executor.submit(self._run, number, job)
                return Submitted.ACCEPTED
        refused(job, outcome, refusal)
        if self._admission.tell(job):
            self._notices.submit(self._refuse, job, refusal)
        return outcome

    @property
    def stopped(self) -> bool:
        with self._lock:
            return not self._accepting

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def _run(self, number: int, job: Job) -> None:
        again: float | None = None
        try:
            self._runner.run(job)
        except RunAgain as later:
            again = later.delay
        except Exception:
            logger.exception("a %s job failed", job.kind)
        with self._lock:
            self._queued.pop(number, None)
            if again is not None and not self._closed:
                heapq.heappush(self._later, (time.monotonic() + again, number, job))
                if self._scheduler is None:
                    self._scheduler = threading.Thread(
                        target=self._run_when_due, name="run-again", daemon=True
                    )
                    self._scheduler.start()
                self._due.notify()
                return
            self._pending.pop(number, None)
            self._idle.notify_all()

    def _run_when_due(self) -> None:
        with self._lock:
            while not self._closed:
                wait = self._later[0][0] - time.monotonic() if self._later else None
                if wait is not None and wait <= 0:
                    _, number, job = heapq.heappop(self._later)
                    self._queued[number] = self._executor.submit(self._run, number, job)
                else:
                    self._due.wait(wait)

    def _refuse(self, job: Job, refusal: Refusal) -> None:
        try:
            self._runner.refuse(job, refusal)
        except Exception:
            logger.exception("could not tell the user a %s job was not taken", job.kind)

    def join(self, timeout: float | None = None) -> bool:
        """Wait until no job is pending; False if `timeout` ran out first."""
        with self._lock:
            return self._idle.wait_for(lambda: not self._pending, timeout)

    def shutdown(self, grace: float) -> int:
        """Stop taking work, wait up to `grace` seconds, interrupt what is left; returns how many were."""
        with self._lock:
            self._accepting = False
        finished = self.join(grace)
        with self._lock:
            self._closed = True
            left = list(self._pending.values())
            for _, number, _ in self._later:
                del self._pending[number]
            self._later.clear()
            self._due.notify()
        for job in left:
            try:
                self._runner.interrupt(job)
            except Exception:
                logger.exception("could not tell the user that a %s job was interrupted", job.kind)
        self._executor.shutdown(wait=finished, cancel_futures=True)
        with self._lock:
            for number, future in list(self._queued.items()):
                if future.cancelled():
                    del self._queued[number]
                    del self._pending[number]
            self._idle.notify_all()
        if left:
            logger.warning("shut down with %d unfinished job(s)", len(left))
        return len(left)
