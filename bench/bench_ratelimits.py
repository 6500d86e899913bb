"""Benchmark a busy workspace within Slack's published rate limits.

    python -m bench.bench_ratelimits [--photos 60] [--seconds 60] [--channels 3] [--only one|redis]

The Slack emulator enforces Slack's published limits (tests/support/slack_emulator/ratelimits.py:
each method's tier per workspace, chat.postMessage about once a second per channel, history once a
minute for an app outside the Marketplace), answering 429 with Retry-After. The bot runs as
deployed, with the embedded API and the production defaults: (one) `python -m bot run --http` alone;
(redis) that web process and two `python -m bot worker` processes on a throwaway redis-server.

In one workspace, `--photos` photos (the test photos in turn, one per message) are shared over
`--seconds`, evenly, in turn in `--channels` channels. Meanwhile, in a channel of its own, three
times in the minute (at 10, 30 and 50 s): a photo is shared, and once it is answered (its
annotated image is in the channel, newer than it and the bot's own), `/detect` with no link must
answer about that photo. Printed: each photo answered exactly once; share -> reply p50, p95 and max
(from POSTing the event to the thread reply reaching the emulator); the 429s Slack answered, by
method; how many photos got their mark; the three `/detect` answers; the replies (the photo's name
left out); the bot's errors. Targets: every photo answered exactly once, p95 <= 10 s,
max <= 20 s, `/detect` 3 / 3. Exits 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from functools import partial
from pathlib import Path

from bench.benchlib import Row, percentile, print_table
from bench.machine import machine, packages
from tests.support.cluster import Cluster
from tests.support.photos import IMAGES
from tests.support.redisserver import redis_server
from tests.support.slack_emulator import Call, SlackEmulator
from tests.support.slack_signing import slash_command_body
from tests.support.slackbot import USER, settings_env, shared_photo

PACKAGES = ("slack-bolt", "slack-sdk", "limits", "dramatiq", "redis")
PRODUCTION = {"DETECT_WORKERS": "8", "DETECT_TIMEOUT": "60"}
DETECT_CHANNEL = "C0DETECTS1"
DETECTS_AT = (10.0, 30.0, 50.0)  # seconds into the minute
# Photos in which the default classes find something: each gets an annotated image.
DETECT_PHOTOS = ("chelsea.png", "astronaut.png", "grace_hopper.jpg")
DRAIN = 120.0  # seconds the last replies may take after the last share
FORM = "application/x-www-form-urlencoded"


@contextmanager
def deployed(slack: SlackEmulator, mode: str) -> Iterator[Cluster]:
    """The bot's processes as deployed in `mode`, against `slack`."""
    with ExitStack() as stack:
        env = settings_env(slack, **PRODUCTION)
        if mode == "redis":
            env["REDIS_URL"] = stack.enter_context(redis_server()).url
        home = stack.enter_context(tempfile.TemporaryDirectory())
        cluster = Cluster(Path(home), env)
        stack.callback(cluster.stop)
        cluster.start_web("web")
        if mode == "redis":
            cluster.start_worker("worker-1")
            cluster.start_worker("worker-2")
        yield cluster


def replies(slack: SlackEmulator, channel: str, ts: str) -> list[float]:
    """When each reply Slack accepted in the thread of `ts` reached the emulator."""
    return [call.at for call in slack.replies(ts, channel, status=200)]


class Detects(threading.Thread):
    """The three `/detect` with no link, each about the photo shared just before it."""

    def __init__(self, slack: SlackEmulator, cluster: Cluster, started: float) -> None:
        super().__init__(daemon=True)
        self.slack, self.cluster, self.started = slack, cluster, started
        self.answers: list[tuple[str, str, float]] = []  # photo, reply text, command -> reply s

    def run(self) -> None:
        for at, name in zip(DETECTS_AT, DETECT_PHOTOS, strict=True):
            time.sleep(max(0.0, self.started + at - time.monotonic()))
            message, envelope = shared_photo(self.slack, name, channel=DETECT_CHANNEL)
            self.cluster.post("web", envelope)
            if not self.slack.wait_until(partial(self._drawn, message["ts"]), DRAIN):
                self.answers.append((name, "(the photo was not answered)", 0.0))
                continue
            posts = len(self.slack.calls_to("chat.postMessage"))
            sent = time.monotonic()
            self.cluster.send(
                "web", slash_command_body("", channel=DETECT_CHANNEL, user=USER), FORM
            )
            answers: list[Call] = []
            if self.slack.wait_until(partial(self._answered, posts, answers), DRAIN):
                self.answers.append((name, answers[0].args["text"], answers[0].at - sent))
            else:
                self.answers.append((name, "(no answer)", 0.0))

    def _drawn(self, ts: str) -> bool:
        """Whether the photo shared as `ts` has its annotated image in the channel."""
        return any(upload.thread_ts == ts for upload in self.slack.uploads)

    def _answered(self, posts: int, answers: list[Call]) -> bool:
        """Whether the command's announcement has its reply, among the posts after `posts`; the
        reply goes in `answers`."""
        calls = [c for c in self.slack.calls_to("chat.postMessage")[posts:] if c.status == 200]
        here = [c for c in calls if c.args["channel"] == DETECT_CHANNEL]
        announced = next((c for c in here if not c.args.get("thread_ts")), None)
        if announced is not None:
            thread = announced.response["ts"]
            answers[:] = [c for c in here if c.args.get("thread_ts") == thread][:1]
        return bool(answers)


def busy_minute(
    mode: str, photos: int, seconds: float, channels: int
) -> tuple[list[Row], list[str]]:
    names = sorted(p.name for p in IMAGES.glob("*.[jp][pn]g"))
    rooms = [f"C0BUSY{n:04d}" for n in range(channels)]
    with SlackEmulator() as slack:
        slack.enforce_rate_limits()
        with deployed(slack, mode) as cluster:
            shared: list[tuple[str, str, float]] = []  # channel, ts, when the event was sent
            started = time.monotonic()
            detects = Detects(slack, cluster, started)
            detects.start()
            for n in range(photos):
                time.sleep(max(0.0, started + n * seconds / photos - time.monotonic()))
                name, channel = names[n % len(names)], rooms[n % channels]
                message, envelope = shared_photo(
                    slack, name, filename=f"{n:02d}-{name}", channel=channel
                )
                sent = time.monotonic()
                if cluster.post("web", envelope).status_code != 200:
                    raise RuntimeError(f"the web process refused photo {n}")
                shared.append((channel, message["ts"], sent))
            slack.wait_until(lambda: all(replies(slack, c, ts) for c, ts, _ in shared), DRAIN)
            detects.join(DRAIN)
            logged = "\n".join(p.logged() for p in cluster.processes.values())
        calls = list(slack.calls)
    answered = [replies(slack, channel, ts) for channel, ts, _ in shared]
    once = sum(1 for times in answered if len(times) == 1)
    waits = [times[0] - sent for times, (_, _, sent) in zip(answered, shared, strict=True) if times]
    p50, p95, worst = (
        (statistics.median(waits), percentile(waits, 95), max(waits)) if waits else (0, 0, 0)
    )
    limited = Counter(c.method for c in calls if c.status == 429)
    marked = sum(1 for channel, ts, _ in shared if slack.reactions(channel, ts))
    right = sum(1 for name, text, _ in detects.answers if text.startswith(f"{name}: "))
    label = {"one": "one process", "redis": "Redis, 2 workers"}[mode]
    rows: list[Row] = [
        (f"{label}: {photos} photos in {seconds:g} s, answered exactly once", f"{once} / {photos}", "all", once == photos),
        (f"{label}: share -> reply p50", f"{p50:.1f} s", "-", None),
        (f"{label}: share -> reply p95", f"{p95:.1f} s", "<= 10 s", p95 <= 10),
        (f"{label}: share -> reply max", f"{worst:.1f} s", "<= 20 s", worst <= 20),
        (f"{label}: 429s from Slack, by method", ", ".join(f"{m} {n}" for m, n in limited.most_common()) or "none", "-", None),
        (f"{label}: photos marked (reactions.add, best effort)", f"{marked} / {photos}", "-", None),
        (f"{label}: /detect with no link about the latest image", f"{right} / {len(DETECTS_AT)}", "all", right == len(DETECTS_AT)),
        (f"{label}: /detect -> its reply", ", ".join(f"{s:.1f} s" for *_, s in detects.answers), "-", None),
    ]  # fmt: skip
    texts = Counter(re.sub(r"^\d\d-\S+?: ", "<photo>: ", call.args["text"]) for call in calls if call.method == "chat.postMessage" and call.status == 200 and call.args.get("channel") in rooms)  # fmt: skip
    lines = [f"{label} replied {n} x {text[:110]}" for text, n in texts.most_common()]
    lines += [f"{label} /detect after {name}: {text[:110]}" for name, text, _ in detects.answers]
    lines += [f"{label} logged {line}" for line in logged.splitlines() if " ERROR " in line]
    return rows, lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=60)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--only", choices=["one", "redis"])
    args = parser.parse_args()
    rows: list[Row] = []
    lines: list[str] = []
    for mode in [args.only] if args.only else ["one", "redis"]:
        mode_rows, mode_lines = busy_minute(mode, args.photos, args.seconds, args.channels)
        rows += mode_rows
        lines += mode_lines
    print_table(rows)
    print("\n" + "\n".join(lines))
    print(f"\nMachine: {machine()}\nPackages: {packages(PACKAGES)}")
    if any(ok is False for *_, ok in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
