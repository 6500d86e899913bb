"""`python -m bot` as a real process: what the console entry point prints and logs.

(tests/unit/test_cli.py runs every command in-process through `bot.cli.main`.)
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from bot.slack.pacing import Pacer
from tests.support.cluster import process_env
from tests.support.faultserver import free_port
from tests.support.paths import REPO
from tests.support.photos import IMAGES, png_claiming
from tests.support.redisserver import RedisServer
from tests.support.slack_emulator import SlackEmulator
from tests.support.slackbot import SIGNING_SECRET


def bot_process(cwd: Path, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m bot ARGV`, run to its end in `cwd` with none of the bot's variables but `env`."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *argv],
        cwd=cwd,
        env=process_env(**env),
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_the_real_entry_point_detects_on_the_embedded_api(tmp_path: Path) -> None:
    done = bot_process(tmp_path, "detect", str(IMAGES / "chelsea.png"))

    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.strip().splitlines()
    assert re.search(r"\bcat \d+%", line)
    assert "Traceback" not in done.stdout + done.stderr


def test_an_image_over_pillows_own_limit_gets_one_line_and_no_library_warning(
    tmp_path: Path,
) -> None:
    # Over the bot's 40 megapixels and Pillow's 89, under the 179 where Pillow refuses outright:
    # Pillow only warns, in two lines on stderr.
    (tmp_path / "huge.png").write_bytes(png_claiming(10_000, 10_000))

    done = bot_process(tmp_path, "detect", "huge.png")

    assert done.returncode == 1
    assert done.stdout == (
        "huge.png: skipped (image too large (100 megapixels, limit 40 megapixels))\n"
    )
    assert done.stderr == ""


def test_check_prints_one_line_per_check_and_logs_nothing_when_slack_is_unreachable(
    tmp_path: Path, slack: SlackEmulator
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}/api/"
    done = bot_process(
        tmp_path,
        "check",
        SLACK_BOT_TOKEN=slack.bot_token,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=nowhere,
    )

    assert done.returncode == 1
    assert f"FAIL Slack at {nowhere} cannot be reached" in done.stdout
    assert done.stderr == ""  # slack_sdk logged an ERROR line for each of its three tries


def test_check_counts_the_429s_slack_answered_the_deployments_processes(
    tmp_path: Path, slack: SlackEmulator, redis: RedisServer
) -> None:
    # What two workers leave in Redis when Slack refuses their calls (bot/slack/pacing.py).
    one, another = Pacer.shared(redis.client()), Pacer.shared(redis.client())
    one.refused("T111", "reactions.add", None, 30.0)
    another.refused("T222", "reactions.add", None, 30.0)
    another.refused("T111", "chat.postMessage", "C1", 1.0)

    done = bot_process(
        tmp_path,
        "check",
        SLACK_BOT_TOKEN=slack.bot_token,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=slack.api_url,
        REDIS_URL=redis.url,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[2] == (
        "ok   Slack rate limits: Slack answered 429 3 time(s) (chat.postMessage 1, "
        "reactions.add 2), counted until a day passes without one"
    )


def test_run_from_env_example_as_it_is_exits_2_with_one_line_and_asks_slack_nothing(
    tmp_path: Path,
) -> None:
    (tmp_path / ".env").write_text((REPO / ".env.example").read_text())

    done = bot_process(tmp_path, "run", "--http")

    assert done.returncode == 2
    assert done.stdout == ""
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(
        "configuration error: SLACK_BOT_TOKEN is still .env.example's placeholder: copy the Bot "
        "User OAuth Token (xoxb-…) from your app's page at https://api.slack.com/apps"
    )
