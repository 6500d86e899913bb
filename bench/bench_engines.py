"""Dramatiq or RQ under the shared queue: what each engine does with a chat bot's work.

    uv sync --locked --group bench   # RQ is only needed here
    python -m bench.bench_engines

Each engine gets a throwaway redis-server and one worker process, set up as a chat bot needs it:
Dramatiq with the bot's own broker (`bot.queue.redis.make_broker`: a dead worker's heartbeat
stale after WORKER_DEAD_AFTER, 3 retries) and 8 threads, as `python -m bot worker` runs; RQ with
its scheduler (delayed jobs need it), 3 retries, the Dramatiq time limit as its job timeout, and
its checks at their most frequent: a running job's heartbeat, the registries' clean-up and an idle
worker's wake-up every 5 s. RQ runs one job at a time per process, in a fork of the worker (its default `Worker`);
8 jobs at once take 8 processes, each of which would load the detector's models.

(1) 200 no-op jobs queued at once: queued -> started, p50 / p99, and the time until the last ran.
(2) 40 jobs each delayed 150 ms (the bot's poll interval for a young API job): how late each
    starts, median / max.
(3) A worker SIGKILLed 1 s into a 10 s job, and a new one started: when the job starts again.

The jobs record their start in Redis; every process shares the machine's cores.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import dramatiq
import redis
import rq

from bench.benchlib import MS, Row, percentile, print_table
from bench.machine import machine, packages
from bot.config import Settings
from bot.queue.redis import WORKER_TIMEOUT_MS, make_broker
from tests.support.paths import REPO
from tests.support.redisserver import redis_server

STARTS = "bench:starts"
JOB_TIMEOUT = int(Settings().detect_timeout) + 60  # seconds, as the bot's Dramatiq time limit
RERUN_WITHIN = 120  # seconds
JOBS = 200
DELAYED = 40
DELAY = 0.15
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "")


def started(name: str, due: float, seconds: float = 0.0) -> None:
    """The job both engines run: record when it started against when it was due, then work."""
    connection = redis.Redis.from_url(REDIS_URL)
    now = time.time()
    connection.rpush(STARTS, json.dumps([name, now, now - due]))
    connection.close()
    time.sleep(seconds)


def _dramatiq(url: str) -> tuple[dramatiq.Broker, dramatiq.Actor]:
    """The bot's broker on `url`, and `started` as an actor of it."""
    broker = make_broker(redis.Redis.from_url(url), Settings())
    dramatiq.set_broker(broker)
    return broker, dramatiq.actor(actor_name="started", queue_name="jobs")(started)


# -- the engines' producers and worker processes ------------------------------------------------


class Engine:
    name: str

    def enqueue(self, name: str, *, delay: float = 0.0, seconds: float = 0.0) -> None: ...

    def worker(self, url: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "bench.bench_engines", "--worker", self.name],
            cwd=REPO,
            env={**os.environ, "BENCH_REDIS_URL": url},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )


class Dramatiq(Engine):
    name = "dramatiq"

    def __init__(self, url: str) -> None:
        _, self._actor = _dramatiq(url)

    def enqueue(self, name: str, *, delay: float = 0.0, seconds: float = 0.0) -> None:
        due = time.time() + delay
        self._actor.send_with_options(args=(name, due, seconds), delay=int(delay * 1000) or None)


class Rq(Engine):
    name = "rq"

    def __init__(self, url: str) -> None:
        self._queue = rq.Queue("jobs", connection=redis.Redis.from_url(url))

    def enqueue(self, name: str, *, delay: float = 0.0, seconds: float = 0.0) -> None:
        due = time.time() + delay
        options = {"retry": rq.Retry(max=3), "job_timeout": JOB_TIMEOUT}
        job = "bench.bench_engines.started"  # RQ's workers import it by name, never from __main__
        if delay:
            self._queue.enqueue_in(timedelta(seconds=delay), job, name, due, seconds, **options)
        else:
            self._queue.enqueue(job, name, due, seconds, **options)


def run_worker(engine: str) -> None:
    """The worker process: runs until killed."""
    if engine == "dramatiq":
        broker, _ = _dramatiq(REDIS_URL)
        threads = Settings().detect_workers  # as `python -m bot worker` runs by default
        dramatiq.Worker(broker, worker_threads=threads, worker_timeout=WORKER_TIMEOUT_MS).start()
        threading.Event().wait()
    else:
        queue = rq.Queue("jobs", connection=redis.Redis.from_url(REDIS_URL))
        rq_worker = rq.Worker(
            [queue],
            connection=queue.connection,
            maintenance_interval=5,
            job_monitoring_interval=5,
            worker_ttl=20,  # an idle worker wakes every 5 s (its TTL - 15), to run its clean-up
        )
        rq_worker.work(with_scheduler=True, logging_level="WARNING")


# -- the measures -------------------------------------------------------------------------------


def crash(worker: subprocess.Popen[bytes]) -> None:
    """SIGKILL the worker and every process it started, as a machine that dies takes them all
    (RQ's work horse runs in a session of its own, out of reach of the worker's group)."""
    pids = [worker.pid]
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").glob("*/children"):
            pids += map(int, task.read_text().split())
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    worker.wait()


def starts(client: redis.Redis, count: int, timeout: float) -> list[tuple[float, float]]:
    """(when, how late) of each job started, once `count` have, or by `timeout`."""
    deadline = time.monotonic() + timeout
    while client.llen(STARTS) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    records = (json.loads(item) for item in client.lrange(STARTS, 0, -1))
    return [(float(when), float(late)) for _, when, late in records]


def measure(make: Callable[[str], Engine]) -> list[Row]:
    with redis_server() as server:
        url = server.url
        engine, client = make(url), redis.Redis.from_url(url)
        worker = engine.worker(url)
        try:
            engine.enqueue("warm-up")
            starts(client, 1, 30)
            client.delete(STARTS)

            for n in range(JOBS):
                engine.enqueue(f"job-{n}")
            waits = [wait for _, wait in starts(client, JOBS, 120)]
            client.delete(STARTS)

            for n in range(DELAYED):
                engine.enqueue(f"delayed-{n}", delay=DELAY)
                time.sleep(0.02)
            late = [lateness for _, lateness in starts(client, DELAYED, 30)]
            client.delete(STARTS)

            engine.enqueue("long", seconds=10)
            starts(client, 1, 30)
            time.sleep(1)
            killed = time.time()
            crash(worker)
            worker = engine.worker(url)
            again = starts(client, 2, RERUN_WITHIN)
            rerun = (
                f"{again[1][0] - killed:.0f} s after the kill"
                if len(again) > 1
                else f"not within {RERUN_WITHIN} s"
            )
        finally:
            crash(worker)
    name = engine.name
    return [
        (f"(1) {name}: {JOBS} jobs queued at once, queued -> started p50 / p99", f"{statistics.median(waits) * MS:.0f} / {percentile(waits, 99) * MS:.0f} ms", "-", None),
        (f"(1) {name}: queued -> the last started", f"{max(waits):.2f} s", "-", None),
        (f"(2) {name}: jobs delayed {DELAY * MS:.0f} ms, started late by median / max", f"{statistics.median(late) * MS:.0f} / {max(late) * MS:.0f} ms", "-", None),
        (f"(3) {name}: a job whose worker was SIGKILLed runs again", rerun, "-", None),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", choices=("dramatiq", "rq"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        run_worker(args.worker)
        return
    rows = [*measure(Dramatiq), *measure(Rq)]
    print_table(rows)
    print(f"\nMachine: {machine()}\nPackages: {packages(('dramatiq', 'rq', 'redis'))}")


if __name__ == "__main__":
    main()
