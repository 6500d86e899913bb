"""Benchmark the Slack app end to end over real HTTP, against the Slack emulator.

    python -m bench.bench_slack [--events 500] [--clients 20] [--job-seconds 2.0] [--grace 1.0]
                                [--runs 5] [--burst 100] [--samples 20]

(1) Ack latency of `POST /slack/events`: `--events` file-share events (a photo each) sent by
    `--clients` threads, each with its own requests.Session, each posting its next event as soon as
    the last one is acked, while the API takes `--job-seconds` per job. The bot is the production
    web process (`python -m bot run --http`: uvicorn, 8 detect workers) in its own process, as
    deployed; its hosted API is the embedded API (real detector) behind tests/support/faultserver.py with
    `finish_after(...)`, so `POST /detect` answers at once and the job reads IN_PROGRESS for that
    long, as the hosted API's asynchronous jobs do (a delay on `POST /detect` would model a slow
    network instead). Two uploads are answered first (the API has loaded its model, the bot holds
    a token). After the burst, once the first replies are in, SIGTERM with a `--grace` second
    SHUTDOWN_GRACE: every event must end with exactly one reply in its thread, its results or
    "please try again".
(2) One upload, embedded API, tests/images/chelsea.png: from POSTing the event to the thread
    reply's chat.postMessage reaching the emulator; the first run loads the model, the median is
    over the `--runs` after it. The bot runs in this process (tests/support/slackbot.py running_bot).
(3) `--burst` uploads at once, embedded API, the test photos cycled, one file per upload, sent by
    `--clients` threads: every upload answered exactly once (chat.postMessage per thread_ts), and
    the time from the first POST to the last reply. running_bot, as in (2).
(4) Slow clients against the production web process (as in (1), embedded API): 8 connections
    stall in the middle of a body they declared and 8 in the middle of their headers; meanwhile
    `--samples` GET /healthz and `--samples` signed uploads, one at a time, must each be answered
    in under a second. Then when the stalled bodies got their 408 and the slow headers' connections
    were closed, counted from when they connected.

The senders run in a child process. Everything shares this machine's cores: the emulator and the
fake API (with its real detector) take CPU a real deployment would not give them. Prints a Markdown
table, the warnings the bot logged, and the machine.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import socket
import statistics
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import requests

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
from bot.blocks.errors import interrupted_message
from bot.process.web import SLACK_PATH
from tests.support.cluster import Cluster
from tests.support.faultserver import faulty_api
from tests.support.photos import IMAGES, photo
from tests.support.slack_emulator import SlackEmulator
from tests.support.slackbot import hosted, memory_queue, running_bot, settings_env

PACKAGES = (
    "slack-bolt",
    "slack-sdk",
    "uvicorn",
    "h11",
    "requests",
    "ai-edge-litert",
    "numpy",
    "pillow",
)
# The production defaults (tests/support/slackbot.py lowers them for speed), and no fair shares.
PRODUCTION = {"DETECT_WORKERS": "8", "DETECT_TIMEOUT": "60", **NO_SHARES}


def log_lines(stderr: str, level: str) -> list[str]:
    """The bot's log lines at `level`, without their timestamps."""
    return [line.split(" ", 2)[2] for line in stderr.splitlines() if f" {level} " in line]


def ack_latency(
    sender: ProcessPoolExecutor, events: int, clients: int, job_seconds: float, grace: float
) -> tuple[list[Row], list[str]]:
    interrupted_text = interrupted_message()["text"]
    with (
        SlackEmulator() as slack,
        faulty_api(max_jobs=events + 100) as api,
        tempfile.TemporaryDirectory() as home,
    ):
        env = settings_env(slack, **PRODUCTION, **hosted(api))
        env.update(SHUTDOWN_GRACE=str(grace), LOG_LEVEL="WARNING")
        cluster = Cluster(Path(home), env)
        try:
            bot = cluster.start_web("web")
            url = f"{bot.url}{SLACK_PATH}"
            _, warm_up = share_all(slack, ["chelsea.png"] * 2)
            send_events(url, warm_up, len(warm_up))
            slack.wait_for("chat.postMessage", len(warm_up), timeout=60)
            api.finish_after(job_seconds)
            threads, bodies = share_all(slack, ["chelsea.png"] * events)
            bot_cpu, machine = cpu_seconds(bot.popen.pid), machine_busy()
            sent = sender.submit(send_events, url, bodies, clients).result()
            bot_cpu = cpu_seconds(bot.popen.pid) - bot_cpu
            busy, ticks = (now - then for now, then in zip(machine_busy(), machine, strict=True))
            slack.wait_for("chat.postMessage", len(warm_up) + 8, timeout=60 + 2 * job_seconds)
            first_wave = time.monotonic() - sent.finished
            stopping = time.monotonic()
            exit_code, stderr = cluster.terminate("web", timeout=grace + 60)
            stopped = time.monotonic() - stopping
        finally:
            cluster.stop()
    per_thread = replies_per_thread(slack)
    interrupted = sum(
        1 for call in slack.calls_to("chat.postMessage") if call.args["text"] == interrupted_text
    )
    answered = sum(per_thread[ts] for ts in threads) - interrupted
    once = sum(1 for ts in threads if per_thread[ts] == 1)
    latencies = sent.latencies
    p99 = percentile(latencies, 99)
    cores = os.cpu_count() or 1
    errors = log_lines(stderr, "ERROR")
    rows: list[Row] = [
        (f"(1) {events} events, {clients} clients, {job_seconds:g} s jobs: acked 200", f"{sent.acked} / {events}", "all", sent.acked == events),
        ("(1) ack latency p50", f"{statistics.median(latencies) * MS:.1f} ms", "-", None),
        ("(1) ack latency p99", f"{p99 * MS:.1f} ms", "< 100 ms", p99 < 0.1),
        ("(1) ack latency max", f"{max(latencies) * MS:.1f} ms", "< 3000 ms (Slack's limit)", max(latencies) < 3),
        ("(1) events acked per second", f"{events / (sent.finished - sent.started):.0f}", "-", None),
        ("(1) bot CPU per event during the burst", f"{bot_cpu / events * MS:.2f} ms", "-", None),
        (f"(1) machine CPU busy during the burst ({cores} cores)", f"{100 * busy / ticks:.0f}%", "-", None),
        ("(1) first 8 replies, after the last ack", f"{first_wave:.2f} s", "-", None),
        (f"(1) SIGTERM -> exit, {grace:g} s grace", f"{stopped:.1f} s, exit code {exit_code}", "exit code 0", exit_code == 0),
        ("(1) replies: results + interrupted", f"{answered} + {interrupted}", f"= {events}", answered + interrupted == events),
        ("(1) threads with exactly one reply", f"{once} / {events}", "all", once == events),
        ("(1) errors logged", f"{len(errors)}", "0", not errors),
    ]  # fmt: skip
    return rows, [*errors, *log_lines(stderr, "WARNING")]


class LogRecords(logging.Handler):
    """The log records at WARNING and above while it is entered."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def __enter__(self) -> LogRecords:
        logging.getLogger().addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        logging.getLogger().removeHandler(self)

    def errors(self) -> int:
        return sum(1 for r in self.records if r.levelno >= logging.ERROR)

    def lines(self) -> list[str]:
        return [f"{r.levelname} {r.name}: {r.getMessage()}" for r in self.records]


def one_upload(runs: int) -> tuple[list[Row], list[str]]:
    content = photo("chelsea.png")
    times: list[float] = []
    to_image: list[float] = []
    named_cat = 0
    with (
        LogRecords() as logged,
        SlackEmulator() as slack,
        running_bot(slack, **PRODUCTION) as bot,
    ):
        for run in range(1 + runs):
            file = slack.add_image(content, "chelsea.png")
            begun = time.perf_counter()
            event, ack = bot.share(file, channel=f"C0ONE{run:04d}")  # Slack's pace is per channel
            reply = slack.wait_for("chat.postMessage", run + 1, timeout=60)[-1].args
            times.append(time.perf_counter() - begun)
            slack.wait_for("files.completeUploadExternal", run + 1, timeout=60)
            to_image.append(time.perf_counter() - begun)
            ack.raise_for_status()
            if reply["thread_ts"] == event["ts"] and "cat" in reply["text"].split("no ")[0]:
                named_cat += 1
            if not memory_queue(bot.runtime).join(timeout=60):
                raise RuntimeError("the upload's work did not finish")
    rest = times[1:]
    rows: list[Row] = [
        ("(2) one upload -> thread reply, first (loads the model)", f"{times[0] * MS:.0f} ms", "-", None),
        (f"(2) one upload -> thread reply, median of {runs}", f"{statistics.median(rest) * MS:.0f} ms", "-", None),
        (f"(2) same, min / max of {runs}", f"{min(rest) * MS:.0f} / {max(rest) * MS:.0f} ms", "-", None),
        (f"(2) one upload -> annotated image uploaded, median of {runs}", f"{statistics.median(to_image[1:]) * MS:.0f} ms", "-", None),
        ("(2) replies in the thread naming the cat", f"{named_cat} / {1 + runs}", "all", named_cat == 1 + runs),
        ("(2) errors logged", f"{logged.errors()}", "0", not logged.errors()),
    ]  # fmt: skip
    return rows, logged.lines()


def burst(sender: ProcessPoolExecutor, uploads: int, clients: int) -> tuple[list[Row], list[str]]:
    names = sorted(p.name for p in IMAGES.glob("*.[jp][pn]g"))
    cycled = [names[n % len(names)] for n in range(uploads)]
    with LogRecords() as logged, SlackEmulator() as slack:
        with running_bot(slack, **PRODUCTION) as bot:
            threads, bodies = share_all(slack, cycled)
            sent = sender.submit(send_events, bot.url, bodies, clients).result()
            acked = sent.finished - sent.started
            slack.wait_for("chat.postMessage", uploads, timeout=300)
            total = time.monotonic() - sent.started
            if not memory_queue(bot.runtime).join(timeout=120):
                raise RuntimeError("the uploads' work did not finish")
            idle = time.monotonic() - sent.started
        per_thread = replies_per_thread(slack)
        marks = slack.calls_to("reactions.add")
        done = len({c.args["timestamp"] for c in marks if c.args["name"] == "white_check_mark"})
        images = len(slack.uploads)
    answered = sum(1 for ts in threads if per_thread[ts] >= 1)
    twice = sum(1 for ts in threads if per_thread[ts] > 1)
    rows: list[Row] = [
        (f"(3) {uploads} uploads at once, {clients} clients: acked 200", f"{sent.acked} / {uploads} in {acked * MS:.0f} ms", "all", sent.acked == uploads),
        ("(3) threads answered", f"{answered} / {uploads}", "all", answered == uploads),
        ("(3) threads answered more than once", f"{twice}", "0", twice == 0),
        ("(3) marked done (white_check_mark: best effort, 50 a minute)", f"{done} / {uploads}", "-", None),
        ("(3) first POST -> last reply", f"{total:.1f} s ({uploads / total:.1f} uploads/s)", "-", None),
        ("(3) first POST -> all work done", f"{idle:.1f} s ({images} annotated images uploaded)", "-", None),
        ("(3) errors logged", f"{logged.errors()}", "0", not logged.errors()),
    ]  # fmt: skip
    return rows, logged.lines()


def slow_clients(samples: int) -> tuple[list[Row], list[str]]:
    with SlackEmulator() as slack, tempfile.TemporaryDirectory() as home:
        cluster = Cluster(Path(home), settings_env(slack, **PRODUCTION, LOG_LEVEL="WARNING"))
        try:
            bot = cluster.start_web("web")
            assert bot.url
            address = ("127.0.0.1", int(bot.url.rsplit(":", 1)[1]))
            _, bodies = share_all(slack, ["chelsea.png"] * samples)
            with ExitStack() as opened:
                connected = time.monotonic()
                stalled = [
                    opened.enter_context(socket.create_connection(address)) for _ in range(8)
                ]
                slow = [opened.enter_context(socket.create_connection(address)) for _ in range(8)]
                for client in stalled:
                    client.sendall(STALLED_BODY)
                for client in slow:
                    client.sendall(SLOW_HEADERS)
                health = []
                with requests.Session() as session:
                    for _ in range(samples):
                        begun = time.perf_counter()
                        session.get(f"{bot.url}/healthz", timeout=10).raise_for_status()
                        health.append(time.perf_counter() - begun)
                acks = send_events(f"{bot.url}{SLACK_PATH}", bodies, 1)
                refused = [_answered(client, connected) for client in stalled]
                closed = [_answered(client, connected) for client in slow]
            _, stderr = cluster.terminate("web", timeout=60)
        finally:
            cluster.stop()
    statuses = Counter(status for status, _ in refused)
    rows: list[Row] = [
        (f"(4) GET /healthz, 8 stalled bodies and 8 slow headers open, max of {samples}", f"{max(health) * MS:.1f} ms", "< 1000 ms", max(health) < 1),
        (f"(4) signed upload acked 200 meanwhile, max of {samples}", f"{max(acks.latencies) * MS:.1f} ms ({acks.acked} / {samples} acked)", "< 1000 ms", max(acks.latencies) < 1 and acks.acked == samples),
        ("(4) the stalled bodies: answered after", f"{dict(statuses)} in {min(t for _, t in refused):.1f}-{max(t for _, t in refused):.1f} s", "408", set(statuses) == {"408"}),
        ("(4) the slow headers: closed unanswered after", f"{min(t for _, t in closed):.1f}-{max(t for _, t in closed):.1f} s", "closed", all(status == "closed" for status, _ in closed)),
    ]  # fmt: skip
    return rows, [*log_lines(stderr, "ERROR"), *log_lines(stderr, "WARNING")]


STALLED_BODY = (
    f"POST {SLACK_PATH} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
    "Content-Length: 500000\r\n\r\n{"
).encode()
SLOW_HEADERS = f"POST {SLACK_PATH} HTTP/1.1\r\nHost: bench\r\n".encode()


def _answered(client: socket.socket, since: float) -> tuple[str, float]:
    """The status the server answered `client` with ("closed": none; "open": still waiting after
    30 s), and when, from `since`."""
    client.settimeout(30)
    try:
        head = client.recv(1024)
    except TimeoutError:
        return "open", time.monotonic() - since
    status = head.split(b" ", 2)[1].decode() if head else "closed"
    return status, time.monotonic() - since


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--job-seconds", type=float, default=2.0)
    parser.add_argument("--grace", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--burst", type=int, default=100)
    parser.add_argument("--samples", type=int, default=20)
    args = parser.parse_args()
    logging.getLogger().setLevel(logging.WARNING)  # listed after the table, not as they come

    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as sender:
        sender.submit(time.monotonic).result()  # the child is up before anything is timed
        # (2) first: the model loads once per process, and (1)'s fake API would load it.
        upload_rows, upload_log = one_upload(args.runs)
        burst_rows, burst_log = burst(sender, args.burst, args.clients)
        ack_rows, ack_log = ack_latency(
            sender, args.events, args.clients, args.job_seconds, args.grace
        )
    slow_rows, slow_log = slow_clients(args.samples)
    rows = ack_rows + upload_rows + burst_rows + slow_rows
    print_table(rows)
    logs = (("(1)", ack_log), ("(2)", upload_log), ("(3)", burst_log), ("(4)", slow_log))
    for scenario, lines in logs:
        for line, count in Counter(lines).most_common():
            print(f"\n{scenario} logged {count} x {line}", end="")
    print(f"\n\nMachine: {machine()}\nPackages: {packages(PACKAGES)}")
    if any(ok is False for *_, ok in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
