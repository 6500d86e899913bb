"""What the benchmarks share: sending signed events from client threads, sharing photos in the
emulator, counting replies, percentiles, and the Markdown table with the machine."""

from __future__ import annotations

import json
import os
import statistics
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.support.slack_emulator import SlackEmulator
from tests.support.slack_signing import sign
from tests.support.slackbot import CHANNEL, SIGNING_SECRET, shared_photo

MS = 1000.0
# Shares too large to matter. The bursts the benchmarks send come from one person, whose fair share
# (issue 14) would turn most of them away: where a benchmark measures capacity, it lifts the shares.
NO_SHARES = {
    "DETECT_USER_IN_FLIGHT": "1000000",
    "DETECT_TEAM_IN_FLIGHT": "1000000",
    "DETECT_USER_RATE": "1000000/minute",
    "DETECT_TEAM_RATE": "1000000/minute",
}
Row = tuple[str, str, str, bool | None]  # metric, value, target, passed (None: no target)


@dataclass(frozen=True)
class Sent:
    """What the sender process saw: when it started and finished (time.monotonic, which processes
    share on Linux), and per event the HTTP status and the seconds from sending to reading the ack."""

    started: float
    finished: float
    statuses: list[int]
    latencies: list[float]

    @property
    def acked(self) -> int:
        return self.statuses.count(200)


def send_events(url: str, bodies: list[bytes], clients: int) -> Sent:
    """POST every body, signed when sent, from `clients` threads with a Session each."""
    statuses: list[int] = []
    latencies: list[float] = []
    lock = threading.Lock()
    left = iter(bodies)

    def client() -> None:
        with requests.Session() as session:
            while True:
                with lock:
                    body = next(left, None)
                if body is None:
                    return
                headers = {"Content-Type": "application/json", **sign(SIGNING_SECRET, body)}
                begun = time.perf_counter()
                response = session.post(url, data=body, headers=headers, timeout=30)
                elapsed = time.perf_counter() - begun
                with lock:
                    statuses.append(response.status_code)
                    latencies.append(elapsed)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Sent(started, time.monotonic(), statuses, latencies)


def share_all(slack: SlackEmulator, names: list[str]) -> tuple[list[str], list[bytes]]:
    """One message with one file per photo name, in the emulator; (their ts, the event bodies).
    Each in a channel of its own: the bot posts about once a second in a channel (Slack's limit),
    and these measure the bot, not that pace (bench_ratelimits.py measures a busy channel)."""
    threads, bodies = [], []
    for n, name in enumerate(names):
        channel = f"{CHANNEL}{n:05d}"
        message, envelope = shared_photo(slack, name, filename=f"{n:03d}-{name}", channel=channel)
        threads.append(message["ts"])
        bodies.append(json.dumps(envelope).encode())
    return threads, bodies


def replies_per_thread(slack: SlackEmulator) -> Counter[str]:
    return Counter(str(call.args.get("thread_ts")) for call in slack.calls_to("chat.postMessage"))


def percentile(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU so far of process `pid` and its children (Linux /proc)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    total = 0
    for each in [pid, *map(int, children)]:
        fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[int, int]:
    """(busy, all) CPU time of the whole machine so far, in clock ticks (Linux /proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def print_table(rows: list[Row]) -> None:
    header = ("metric", "value", "target", "result")
    cells = [
        (name, value, target, "-" if ok is None else "pass" if ok else "FAIL")
        for name, value, target, ok in rows
    ]
    widths = [max(len(row[i]) for row in [header, *cells]) for i in range(len(header))]
    for n, row in enumerate([header, *cells]):
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if n == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
