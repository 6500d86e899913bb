import threading

from bot.workqueue import Submitted, Task, WorkQueue


def blocking_task(name, started, release, done, key=None, interrupted=None):
    def run(task):
        started.release()
        release.wait(5)
        if task.claim():
            done.append(name)

    return Task(name, run, interrupted=interrupted, key=key)


def test_a_burst_beyond_the_workers_waits_and_nothing_is_dropped():
    queue = WorkQueue(workers=2, capacity=50)
    started, release, done = threading.Semaphore(0), threading.Event(), []
    outcomes = [queue.submit(blocking_task(n, started, release, done)) for n in range(30)]
    assert outcomes == [Submitted.ACCEPTED] * 30
    assert started.acquire(timeout=5) and started.acquire(timeout=5)
    assert queue.pending == 30
    release.set()
    assert queue.join(timeout=5)
    assert sorted(done) == list(range(30))
    queue.shutdown(0)


def test_past_capacity_the_caller_is_told():
    queue = WorkQueue(workers=1, capacity=2)
    started, release, done = threading.Semaphore(0), threading.Event(), []
    assert queue.submit(blocking_task(1, started, release, done)) is Submitted.ACCEPTED
    assert queue.submit(blocking_task(2, started, release, done)) is Submitted.ACCEPTED
    assert queue.submit(blocking_task(3, started, release, done)) is Submitted.BUSY
    release.set()
    assert queue.join(timeout=5)
    assert sorted(done) == [1, 2]
    queue.shutdown(0)


def test_a_key_is_taken_once():
    queue = WorkQueue(workers=1, capacity=10)
    started, release, done = threading.Semaphore(0), threading.Event(), []
    release.set()
    assert (
        queue.submit(blocking_task("a", started, release, done, key="C1:1.0")) is Submitted.ACCEPTED
    )
    assert queue.join(timeout=5)
    assert (
        queue.submit(blocking_task("b", started, release, done, key="C1:1.0"))
        is Submitted.DUPLICATE
    )
    assert queue.join(timeout=5)
    assert done == ["a"]
    queue.shutdown(0)


def test_shutdown_finishes_quick_work_and_interrupts_the_rest_once():
    queue = WorkQueue(workers=1, capacity=10)
    started, release, done, told = threading.Semaphore(0), threading.Event(), [], []
    slow = blocking_task("slow", started, release, done, interrupted=lambda: told.append("slow"))
    queued = blocking_task(
        "queued", started, release, done, interrupted=lambda: told.append("queued")
    )
    assert queue.submit(slow) is Submitted.ACCEPTED
    assert queue.submit(queued) is Submitted.ACCEPTED
    assert started.acquire(timeout=5)
    assert not queue.stopped
    assert queue.shutdown(grace=0.05) == 2
    assert queue.stopped
    assert sorted(told) == ["queued", "slow"]
    release.set()  # the slow one finishes after all, but must not answer a second time
    assert queue.join(timeout=5)
    assert done == []
    assert queue.submit(blocking_task("late", started, release, done)) is Submitted.STOPPING


def test_a_failing_task_does_not_stop_the_queue(caplog):
    queue = WorkQueue(workers=1, capacity=10)
    done = []

    def boom(task):
        raise RuntimeError("boom")

    queue.submit(Task("boom", boom))
    queue.submit(Task("fine", lambda task: done.append(1)))
    assert queue.join(timeout=5)
    assert done == [1]
    assert "task boom failed" in caplog.text
    queue.shutdown(0)
