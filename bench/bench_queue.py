"""Benchmark the bot scaled out on Redis: how soon a finished job is seen, acks, throughput.

    python -m bench.bench_queue [--events 300] [--clients 20] [--uploads 200] [--rounds 3]
                                [--only 1|2|3]

(1) Job finished on the API -> the bot's poll that sees it, for 21 jobs taking 0.5, 0.6, ... 2.5 s
    (tests/support/faultserver.py holds each IN_PROGRESS until its time and records that moment; the first
    GET /detect/{id} the server receives after it is when the bot saw the result), and the polls
    each job cost. Four ways to wait, the jobs of each at once:
      ava-slackbot   the old bot's client (Hackthings/ava-slackbot, avabot/vendor/imageintelligence/
                     api.py): poll at once, then every 0.5 s; re-created here, three lines
      before         this client before issue 6: 50 ms, then each gap 1.5 times the last, up to 2 s
      one process    the schedule of the bot's polls (every 150 ms while the job is young), here
                     through `wait_for_job`, the command line's way: a thread waits
      Redis          web + worker processes: each poll is a delayed message, no thread waits
    Target (Redis): median <= 100 ms, max <= 250 ms.
(2) Ack latency of the web process (uvicorn) with REDIS_URL: `--events` signed uploads from
    `--clients` threads, each sending its next once the last is acked, while two worker processes
    run the jobs (2 s each on the API). Deployed, web and worker processes run on machines of
    their own: the first run pins the web process, Redis and the senders to one core and the
    workers and the fakes (whose API runs the real detector on every job) to the other; the second
    lets every process run on either core. Target (pinned): p99 < 100 ms; every upload answered
    once.
(3) Throughput on the embedded API (no account: each worker runs it in-process, jobs in Redis):
    `--uploads` uploads of the test photos at once, answered by one worker process, then by two,
    `--rounds` times each in turn; the medians. Deployed, each worker process runs on a machine of
    its own: the first setup pins worker process n to core n (the web process, Redis and Slack run
    on either core); the second lets every process run on either core, where one worker process
    already uses more than one core (the detector runs outside the GIL). Target (pinned): two
    workers >= 1.6 times one.

Redis is a throwaway redis-server; Slack is the emulator in this process. Everything shares the
machine's cores: the emulator, the fake API and the senders take CPU a deployment would not give them.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.benchlib import (
    MS,
    NO_SHARES,
    Row,
    cpu_seconds,
    machine_busy,
    percentile,
    print_table,
    replies_per_thread,
    send_events,
    share_all,
)
from bench.machine import machine, packages
from bot.imageintelligence.client import ImageIntelligenceClient, blob_image
from bot.imageintelligence.models import DetectJob
from bot.process.web import SLACK_PATH
from tests.support.cluster import Cluster
from tests.support.faultserver import CLIENT_ID, CLIENT_SECRET, FaultyApi, faulty_api
from tests.support.photos import IMAGES, photo
from tests.support.redisserver import redis_server
from tests.support.slack_emulator import SlackEmulator
from tests.support.slackbot import SIGNING_SECRET, hosted

PACKAGES = ("dramatiq", "redis", "slack-bolt", "slack-sdk", "uvicorn", "ai-edge-litert")
DURATIONS = [round(0.5 + 0.1 * n, 1) for n in range(21)]  # 0.5 .. 2.5 s


def durations() -> Callable[[], float]:
    """Each job's duration in turn: the fault server asks once per POST /detect."""
    left = iter(DURATIONS)
    lock = threading.Lock()

    def next_one() -> float:
        with lock:
            return next(left)

    return next_one


def seen(api: FaultyApi) -> tuple[list[float], list[int]]:
    """Per job: seconds from its finish to the first poll after it, and how many polls it had."""
    lags, polls = [], []
    for job_id, finish in api.finish_times.items():
        gets = [r.received_at for r in api.requests if r.path == f"/detect/{job_id}"]
        lags.append(min(t for t in gets if t >= finish) - finish)
        polls.append(len(gets))
    return lags, polls


# -- (1) result latency -----------------------------------------------------------------------


def ava_slackbot(client: ImageIntelligenceClient, job: DetectJob) -> None:
    while client.get_detect_job(job.id).status == "IN_PROGRESS":
        time.sleep(0.5)


def before(client: ImageIntelligenceClient, job: DetectJob) -> None:
    delay = 0.05
    while True:
        time.sleep(delay)
        if client.get_detect_job(job.id).finished:
            return
        delay = min(delay * 1.5, 2.0)


def one_process(client: ImageIntelligenceClient, job: DetectJob) -> None:
    client.wait_for_job(job, timeout=30)


def in_process(
    wait: Callable[[ImageIntelligenceClient, DetectJob], None],
) -> tuple[list[float], list[int]]:
    image = [blob_image(photo("chelsea.png"))]
    with (
        faulty_api() as api,
        ImageIntelligenceClient(CLIENT_ID, CLIENT_SECRET, api.base_url, pool_size=32) as client,
    ):
        client.access_token()
        api.finish_after(durations())
        jobs = [client.detect(image, ["cat"]) for _ in DURATIONS]
        with ThreadPoolExecutor(len(jobs)) as pool:
            list(pool.map(lambda job: wait(client, job), jobs))
        return seen(api)


@contextmanager
def scaled_out(
    slack: SlackEmulator, workers: int, **env: str
) -> Iterator[tuple[Cluster, str, int]]:
    """One web and `workers` worker processes on a fresh Redis; (the cluster, the events URL,
    redis-server's pid)."""
    with redis_server() as redis, tempfile.TemporaryDirectory() as directory:
        cluster = Cluster(
            Path(directory),
            {
                "SLACK_BOT_TOKEN": slack.bot_token,
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "SLACK_API_URL": slack.api_url,
                "REDIS_URL": redis.url,
                "LOG_LEVEL": "INFO",  # a worker says it is ready at INFO
                **NO_SHARES,
                **env,
            },
        )
        try:
            web = cluster.start_web("web")
            for n in range(workers):
                cluster.start_worker(f"worker-{n + 1}")
            yield cluster, f"{web.url}{SLACK_PATH}", redis.pid
        finally:
            cluster.stop()


def on_redis(sender: ProcessPoolExecutor) -> tuple[list[float], list[int]]:
    with (
        SlackEmulator() as slack,
        faulty_api() as api,
        scaled_out(slack, 1, **hosted(api), ANNOTATE="false") as (_, url, _redis),
    ):
        warm = share_all(slack, ["chelsea.png"])[1]
        sender.submit(send_events, url, warm, 1).result()
        slack.wait_for("chat.postMessage", timeout=60)
        api.finish_after(durations())
        _, bodies = share_all(slack, ["chelsea.png"] * len(DURATIONS))
        sender.submit(send_events, url, bodies, len(bodies)).result()
        slack.wait_for("chat.postMessage", 1 + len(bodies), timeout=120)
        return seen(api)


def result_latency(sender: ProcessPoolExecutor) -> list[Row]:
    rows: list[Row] = []
    ways = [
        ("ava-slackbot", lambda: in_process(ava_slackbot)),
        ("before", lambda: in_process(before)),
        ("one process", lambda: in_process(one_process)),
        ("Redis", lambda: on_redis(sender)),
    ]
    for name, measure in ways:
        lags, polls = measure()
        target = name == "Redis"
        median, worst = statistics.median(lags), max(lags)
        rows += [
            (f"(1) {name}: finished -> seen, median / max", f"{median * MS:.0f} / {worst * MS:.0f} ms",
             "<= 100 / <= 250 ms" if target else "-", median <= 0.1 and worst <= 0.25 if target else None),
            (f"(1) {name}: polls per job, median / max", f"{statistics.median(polls):g} / {max(polls)}", "-", None),
        ]  # fmt: skip
    return rows


# -- (2) acks -----------------------------------------------------------------------------------


def pin(pid: int, cpu: int | None, *, children: bool = True) -> None:
    """Run the process (every thread of it, and of its children) on `cpu`; None: anywhere."""
    cpus = set(range(os.cpu_count() or 1)) if cpu is None else {cpu}
    for thread in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(ProcessLookupError):  # the thread has ended since
            os.sched_setaffinity(int(thread), cpus)
    if children:
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            pin(int(child), cpu)


def acks(sender: ProcessPoolExecutor, events: int, clients: int, *, dynos: bool) -> list[Row]:
    """With `dynos`, the web process, Redis and the senders (Slack) share core 0, the workers and
    the fakes core 1: web and worker processes on machines of their own, as deployed. Without,
    every process may run on either core."""
    with (
        SlackEmulator() as slack,
        faulty_api(max_jobs=events + 100) as api,
        scaled_out(slack, 2, **hosted(api), ANNOTATE="false") as (cluster, url, redis),
    ):
        if dynos:
            for name, process in cluster.processes.items():
                pin(process.popen.pid, 0 if name == "web" else 1)
            pin(redis, 0)
            pin(os.getpid(), 1, children=False)  # the emulator and the fake API
        pin(sender.submit(os.getpid).result(), 0 if dynos else None)
        warm = share_all(slack, ["chelsea.png"] * 2)[1]
        sender.submit(send_events, url, warm, 2).result()
        slack.wait_for("chat.postMessage", 2, timeout=60)
        api.finish_after(2.0)
        threads, bodies = share_all(slack, ["chelsea.png"] * events)
        sent = sender.submit(send_events, url, bodies, clients).result()
        slack.wait_for("chat.postMessage", 2 + events, timeout=300)
        answered = time.monotonic() - sent.started
        pin(os.getpid(), None, children=False)
    per_thread = replies_per_thread(slack)
    once = sum(1 for ts in threads if per_thread[ts] == 1)
    p99 = percentile(sent.latencies, 99)
    where = "web and workers on a core each" if dynos else "all processes on both cores"
    target = "< 100 ms" if dynos else "-"
    return [
        (f"(2) {events} events, {clients} clients, {where}: acked 200", f"{sent.acked} / {events}", "all", sent.acked == events),
        (f"(2) {where}: ack p50 / p99 / max", f"{statistics.median(sent.latencies) * MS:.1f} / {p99 * MS:.1f} / {max(sent.latencies) * MS:.1f} ms", target, p99 < 0.1 if dynos else None),
        (f"(2) {where}: threads answered exactly once", f"{once} / {events}", "all", once == events),
        (f"(2) {where}: first POST -> last reply (2 s jobs)", f"{answered:.1f} s", "-", None),
    ]  # fmt: skip


# -- (3) throughput -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    seconds: float  # first POST -> last reply
    answered_once: int
    answered_twice: int
    busy: float  # share of the machine's CPU busy over the run
    worker_cpu: float  # CPU seconds of the worker processes over the run


def throughput(
    sender: ProcessPoolExecutor, uploads: int, clients: int, workers: int, *, dynos: bool
) -> Run:
    """With `dynos`, worker process n runs on core n only, as on a one-core machine of its own;
    the web process, Redis and Slack may run on either core."""
    names = sorted(p.name for p in IMAGES.glob("*.[jp][pn]g"))
    with SlackEmulator() as slack, scaled_out(slack, workers) as (cluster, url, _redis):
        warm = share_all(slack, ["chelsea.png"] * workers * 2)[1]
        sender.submit(send_events, url, warm, len(warm)).result()
        slack.wait_for("chat.postMessage", len(warm), timeout=120)
        threads, bodies = share_all(slack, [names[n % len(names)] for n in range(uploads)])
        pids = [p.popen.pid for name, p in cluster.processes.items() if name.startswith("worker")]
        if dynos:
            for core, pid in enumerate(pids):
                pin(pid, core)
        cpu, machine = sum(map(cpu_seconds, pids)), machine_busy()
        sent = sender.submit(send_events, url, bodies, clients).result()
        slack.wait_for("chat.postMessage", len(warm) + uploads, timeout=600)
        took = time.monotonic() - sent.started
        cpu = sum(map(cpu_seconds, pids)) - cpu
        busy, ticks = (now - then for now, then in zip(machine_busy(), machine, strict=True))
    per_thread = replies_per_thread(slack)
    return Run(
        took,
        sum(1 for ts in threads if per_thread[ts] == 1),
        sum(1 for ts in threads if per_thread[ts] > 1),
        busy / ticks,
        cpu,
    )


def scaling(sender: ProcessPoolExecutor, uploads: int, clients: int, rounds: int) -> list[Row]:
    """Each setup `rounds` times, one after the other in turn; the medians (one run on a shared
    2-core machine swings by 15 %)."""
    setups = [(dynos, workers) for dynos in (True, False) for workers in (1, 2)]
    runs: dict[tuple[bool, int], list[Run]] = {setup: [] for setup in setups}
    for _ in range(rounds):
        for dynos, workers in setups:
            runs[dynos, workers].append(throughput(sender, uploads, clients, workers, dynos=dynos))

    def median(setup: tuple[bool, int], measure: Callable[[Run], float]) -> float:
        return statistics.median(measure(run) for run in runs[setup])

    rows: list[Row] = []
    for dynos in (True, False):
        where = "workers on a core each" if dynos else "all processes on both cores"
        rates = {
            workers: uploads / median((dynos, workers), lambda r: r.seconds) for workers in (1, 2)
        }
        for workers, rate in rates.items():
            setup = (dynos, workers)
            took = [run.seconds for run in runs[setup]]
            busy = median(setup, lambda r: r.busy)
            cores = median(setup, lambda r: r.worker_cpu / r.seconds)
            per_upload = median(setup, lambda r: r.worker_cpu) / uploads * MS
            name = f"(3) {where}, {workers} worker process{'es' if workers > 1 else ''}"
            rows += [
                (f"{name}: {uploads} uploads (median of {rounds})", f"{rate:.1f} uploads/s ({min(took):.1f}-{max(took):.1f} s)", "-", None),
                (f"{name}: machine busy / worker cores / worker CPU per upload", f"{busy:.0%} / {cores:.2f} / {per_upload:.0f} ms", "-", None),
            ]  # fmt: skip
        ratio = rates[2] / rates[1]
        rows.append((f"(3) {where}: 2 workers / 1 worker", f"{ratio:.2f}x", ">= 1.6x" if dynos else "-", ratio >= 1.6 if dynos else None))  # fmt: skip
    total = sum(len(each) for each in runs.values()) * uploads
    once = sum(run.answered_once for each in runs.values() for run in each)
    twice = sum(run.answered_twice for each in runs.values() for run in each)
    return [
        *rows,
        ("(3) uploads answered once / twice, all runs", f"{once} / {twice}", f"{total} / 0", once == total and twice == 0),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--uploads", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=("1", "2", "3"), help="run one part")
    args = parser.parse_args()

    parts = {
        "1": lambda sender: result_latency(sender),
        "2": lambda sender: [
            *acks(sender, args.events, args.clients, dynos=True),
            *acks(sender, args.events, args.clients, dynos=False),
        ],
        "3": lambda sender: scaling(sender, args.uploads, args.clients, args.rounds),
    }
    spawn = multiprocessing.get_context("spawn")
    rows: list[Row] = []
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as sender:
        sender.submit(time.monotonic).result()  # the sender is up before anything is timed
        for key, part in parts.items():
            if args.only in (None, key):
                rows += part(sender)
    print_table(rows)
    print(f"\nMachine: {machine()}\nPackages: {packages(PACKAGES)}")
    if any(ok is False for *_, ok in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
