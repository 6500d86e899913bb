"""The single-process queue: bounded, de-duplicating, and answering each job once on shutdown.

The queue's runner here is a small one that blocks until released and answers through a real
`MemoryJournals`, the way the bot's jobs claim their one answer.
"""

import threading

from bot.blocks.errors import BUSY, RESTARTING, Refusal
from bot.config import Settings
from bot.jobs.base import Job
from bot.jobs.notice import Notice
from bot.jobs.steps import MemoryJournals, RunAgain, done
from bot.queue import Submitted
from bot.queue.admission import Admission, admission_for
from bot.queue.memory import MemoryQueue
from tests.support.waiting import until


class BlockingRunner:
    def __init__(self) -> None:
        self.started = threading.Semaphore(0)
        self.release = threading.Event()
        self.done: list[str] = []
        self.told: list[str] = []
        self.refused: list[tuple[str, str]] = []
        self.told_refusal = threading.Event()
        self.journals = MemoryJournals()

    def run(self, job: Job) -> None:
        self.started.release()
        self.release.wait(5)
        if name(job) == "boom":
            raise RuntimeError("boom")
        if self.journals.of(job.team_id, job.id).claim("answer", done("done")):
            self.done.append(name(job))

    def interrupt(self, job: Job) -> None:
        if self.journals.of(job.team_id, job.id).claim("answer", done("interrupted")):
            self.told.append(name(job))

    def refuse(self, job: Job, refusal: Refusal) -> None:
        self.refused.append((name(job), refusal.reason))
        self.told_refusal.set()


def name(job: Job) -> str:
    assert isinstance(job, Notice)
    return job.notice


def shares() -> Admission:
    return admission_for(Settings())


def job(name: object) -> Notice:
    return Notice(team_id="T1", channel="C1", user="U1", notice=str(name))


def test_a_burst_beyond_the_workers_waits_and_nothing_is_dropped():
    runner = BlockingRunner()
    queue = MemoryQueue(runner, workers=2, capacity=50, admission=shares())
    outcomes = [queue.submit(job(n)) for n in range(30)]
    assert outcomes == [Submitted.ACCEPTED] * 30
    assert runner.started.acquire(timeout=5) and runner.started.acquire(timeout=5)
    assert queue.pending == 30
    runner.release.set()
    assert queue.join(timeout=5)
    assert sorted(runner.done, key=int) == [str(n) for n in range(30)]
    queue.shutdown(0)


def test_past_capacity_the_caller_and_the_user_are_told():
    runner = BlockingRunner()
    queue = MemoryQueue(runner, workers=1, capacity=2, admission=shares())
    assert queue.submit(job(1)) is Submitted.ACCEPTED
    assert queue.submit(job(2)) is Submitted.ACCEPTED
    assert queue.submit(job(3)) is Submitted.BUSY
    runner.release.set()
    assert queue.join(timeout=5)
    assert sorted(runner.done) == ["1", "2"]
    queue.shutdown(0)
    assert runner.refused == [("3", BUSY)]


def test_a_key_is_taken_once():
    runner = BlockingRunner()
    runner.release.set()
    queue = MemoryQueue(runner, workers=1, capacity=10, admission=shares())
    assert queue.submit(job("a"), key="T1:C1:1.0") is Submitted.ACCEPTED
    assert queue.join(timeout=5)
    assert queue.submit(job("b"), key="T1:C1:1.0") is Submitted.DUPLICATE
    assert queue.join(timeout=5)
    assert runner.done == ["a"] and runner.refused == []
    queue.shutdown(0)


def test_shutdown_finishes_quick_work_and_interrupts_the_rest_once():
    runner = BlockingRunner()
    queue = MemoryQueue(runner, workers=1, capacity=10, admission=shares())
    assert queue.submit(job("slow")) is Submitted.ACCEPTED
    assert queue.submit(job("queued")) is Submitted.ACCEPTED
    assert runner.started.acquire(timeout=5)
    assert not queue.stopped
    assert queue.shutdown(grace=0.05) == 2
    assert queue.stopped
    assert sorted(runner.told) == ["queued", "slow"]
    runner.release.set()  # the slow one finishes after all, but must not answer a second time
    assert queue.join(timeout=5)
    assert runner.done == []
    assert queue.submit(job("late")) is Submitted.STOPPING


def test_a_refusal_during_shutdown_is_still_told():
    runner = BlockingRunner()
    queue = MemoryQueue(runner, workers=1, capacity=10, admission=shares())
    queue.shutdown(0)
    assert queue.submit(job("late")) is Submitted.STOPPING
    assert runner.told_refusal.wait(5)
    assert runner.refused == [("late", RESTARTING)]


def test_a_failing_job_does_not_stop_the_queue(caplog):
    runner = BlockingRunner()
    runner.release.set()
    queue = MemoryQueue(runner, workers=1, capacity=10, admission=shares())
    queue.submit(job("boom"))
    queue.submit(job("fine"))
    assert queue.join(timeout=5)
    assert runner.done == ["fine"]
    assert "a notice job failed" in caplog.text
    queue.shutdown(0)


class PollingRunner(BlockingRunner):
    """Jobs named "poll-N" must be run N more times, each asking to be run again shortly."""

    def __init__(self) -> None:
        super().__init__()
        self.runs: list[str] = []

    def run(self, job: Job) -> None:
        self.runs.append(name(job))
        left = self.runs.count(name(job))
        if name(job).startswith("poll-") and left <= int(name(job).removeprefix("poll-")):
            raise RunAgain(0.02)
        super().run(job)


def test_a_job_run_again_later_holds_no_thread_meanwhile_and_keeps_its_place():
    runner = PollingRunner()
    queue = MemoryQueue(runner, workers=1, capacity=2, admission=shares())
    assert queue.submit(job("poll-3")) is Submitted.ACCEPTED
    assert queue.submit(job("quick")) is Submitted.ACCEPTED
    assert queue.submit(job("over")) is Submitted.BUSY  # the waiting job still counts
    runner.release.set()
    assert queue.join(timeout=5)
    # The one worker thread ran "quick" while "poll-3" waited to be run again.
    assert runner.runs.index("quick") < len(runner.runs) - 1
    assert runner.runs.count("poll-3") == 4 and sorted(runner.done) == ["poll-3", "quick"]
    queue.shutdown(0)


def test_shutdown_interrupts_a_job_waiting_to_be_run_again_and_runs_it_no_more():
    runner = PollingRunner()
    queue = MemoryQueue(runner, workers=1, capacity=10, admission=shares())
    assert queue.submit(job("poll-1000")) is Submitted.ACCEPTED
    assert until(lambda: bool(runner.runs))
    assert queue.shutdown(grace=0.05) == 1
    assert runner.told == ["poll-1000"]
    runs = len(runner.runs)
    assert queue.join(timeout=1)
    assert len(runner.runs) == runs and runner.done == []


def test_jobs_waiting_to_be_run_again_share_one_thread():
    # Found by bench_slack: a thread per waiting job cost every poll a thread's start.
    runner = PollingRunner()
    runner.release.set()
    before = threading.active_count()
    queue = MemoryQueue(runner, workers=2, capacity=100, admission=shares())
    for n in range(25):
        assert queue.submit(job(f"poll-{1000 + n}")) is Submitted.ACCEPTED
    assert until(lambda: len(runner.runs) >= 100)
    # Two workers and the scheduler (a slack of one for a thread still ending from another test).
    assert threading.active_count() - before <= 4
    queue.shutdown(0)
    assert sorted(runner.told) == sorted(f"poll-{1000 + n}" for n in range(25))
