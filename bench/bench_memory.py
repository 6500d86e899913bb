"""Memory of the deployed processes: what a dyno or an instance must hold.

    python -m bench.bench_memory [--uploads 200] [--classes all]

Starts the Procfile's processes the way a PaaS runs them (`python -m bot run --http`, `python -m bot
worker`), on the embedded API (no account: the default deploy), with the emulator as Slack:

(1) web + worker on a throwaway redis-server (the Heroku Button's and the Render Blueprint's set-up);
(2) one process, no REDIS_URL: the web process does the work itself.

Each process's memory is read from /proc after start, and again after `--uploads` uploads of the
test photos shared at once, each in a channel of its own (each answered, with its annotated image
uploaded; `--classes` sets
DETECT_CLASSES, and `all` loads every model): RSS as `ps` shows
it, its peak (VmHWM), and PSS, which splits the pages a process shares with others (libraries
mapped by several) among them, so the PSS of a dyno's processes adds up to what its memory quota
counts.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.benchlib import NO_SHARES
from bench.machine import machine, packages
from tests.support.cluster import Cluster
from tests.support.redisserver import redis_server
from tests.support.slack_emulator import SlackEmulator
from tests.support.slackbot import CHANNEL, SIGNING_SECRET, shared_photo, wait_for_reply

PHOTOS = ("chelsea.png", "astronaut.png", "grace_hopper.jpg", "coffee.png", "rocket.jpg")
MIB = 1024 * 1024


@dataclass(frozen=True)
class Memory:
    """A process and any children it has, in bytes."""

    rss: int
    peak: int
    pss: int

    def __add__(self, other: Memory) -> Memory:
        return Memory(self.rss + other.rss, self.peak + other.peak, self.pss + other.pss)


def memory(pid: int) -> Memory:
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    rollup = dict(
        line.split(":", 1)
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]
    )
    own = Memory(
        *(
            _kib(table[key])
            for table, key in ((status, "VmRSS"), (status, "VmHWM"), (rollup, "Pss"))
        )
    )
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return sum((memory(int(child)) for child in children), own)


def _kib(field: str) -> int:
    return int(field.split()[0]) * 1024


@contextmanager
def deployed(
    slack: SlackEmulator, *, redis_url: str | None, classes: str | None
) -> Iterator[Cluster]:
    env = {
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        **({"REDIS_URL": redis_url} if redis_url else {}),
        **({"DETECT_CLASSES": classes} if classes else {}),
        **NO_SHARES,
    }
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as directory:
        cluster = Cluster(Path(directory), env)
        try:
            cluster.start_web("web")
            if redis_url:
                cluster.start_worker("worker")
            yield cluster
        finally:
            cluster.stop()


def measure(
    cluster: Cluster, slack: SlackEmulator, uploads: int
) -> dict[str, tuple[Memory, Memory]]:
    """Per process: its memory after start, and after `uploads` uploads answered."""
    started = {name: memory(p.popen.pid) for name, p in cluster.processes.items()}
    # Each in a channel of its own: the bot posts about once a second in a channel (Slack's pace).
    shared = [
        shared_photo(
            slack,
            PHOTOS[n % len(PHOTOS)],
            filename=f"{n}-{PHOTOS[n % len(PHOTOS)]}",
            channel=f"{CHANNEL}{n:05d}",
        )
        for n in range(uploads)
    ]
    for _, envelope in shared:
        assert cluster.post("web", envelope).status_code == 200
    for message, _ in shared:
        wait_for_reply(slack, message["ts"], timeout=120)
    return {name: (started[name], memory(p.popen.pid)) for name, p in cluster.processes.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=200)
    parser.add_argument("--classes", help="DETECT_CLASSES (default: the bot's default classes)")
    args = parser.parse_args()

    rows = []
    with SlackEmulator() as slack, redis_server() as redis:
        for setup, redis_url in (("web + worker on Redis", redis.url), ("one process", None)):
            with deployed(slack, redis_url=redis_url, classes=args.classes) as cluster:
                for name, (start, after) in measure(cluster, slack, args.uploads).items():
                    rows.append((setup, name, start, after))

    print(
        f"| set-up | process | RSS after start | RSS after {args.uploads} uploads | peak RSS | PSS after |"
    )
    print("|---|---|---|---|---|---|")
    for setup, name, start, after in rows:
        print(
            f"| {setup} | {name} | {start.rss / MIB:.0f} MiB | {after.rss / MIB:.0f} MiB "
            f"| {after.peak / MIB:.0f} MiB | {after.pss / MIB:.0f} MiB |"
        )
    print()
    print(f"DETECT_CLASSES: {args.classes or 'the default'}. Machine: {machine()}")
    print(
        f"Packages: {packages(['ai-edge-litert', 'numpy', 'pillow', 'uvicorn', 'dramatiq', 'slack-bolt'])}"
    )


if __name__ == "__main__":
    main()
