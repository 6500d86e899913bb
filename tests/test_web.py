"""The HTTP deployment: GET /healthz, and `python -m bot run --http` (gunicorn) as a real process.

The process is started as the Procfile's `web:` line starts it, with the emulator as Slack: it
serves a signed upload of a real photo, answers it in the thread, and on SIGTERM finishes the work
in flight and exits 0 within its grace period.
"""

from __future__ import annotations

import json
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

from bot.cli import _parser
from bot.process.web import SLACK_PATH
from tests.cluster import REPO, process_env
from tests.faultserver import free_port
from tests.slack_emulator import SlackEmulator
from tests.slack_signing import post_signed
from tests.slackbot import CHANNEL, SIGNING_SECRET, running_bot, shared_photo, wait_for_reply

SHUTDOWN_GRACE = 5
# `python -m bot run --http` gives gunicorn the app's grace plus 5 s to stop its worker.
STOP_WITHIN = SHUTDOWN_GRACE + 5


def test_healthz_answers_ok_over_http(slack: SlackEmulator):
    with running_bot(slack) as bot:
        base = bot.base_url

        health = requests.get(f"{base}/healthz", timeout=5)
        head = requests.head(f"{base}/healthz", timeout=5)
        elsewhere = requests.get(f"{base}/status", timeout=5)

    assert (health.status_code, health.text) == (200, "ok\n")
    assert health.headers["Content-Type"].startswith("text/plain")
    assert head.status_code == 200
    assert elsewhere.status_code == 404
    assert slack.calls == []  # a health check asks Slack nothing


def share(slack: SlackEmulator, url: str, name: str) -> tuple[dict[str, Any], int]:
    """Share the photo `name` in CHANNEL and post its signed file_share event; (message, status)."""
    message, envelope = shared_photo(slack, name)
    body = json.dumps(envelope).encode()
    return message, post_signed(url, body, "application/json", SIGNING_SECRET).status_code


def wait_until_serving(process: subprocess.Popen[bytes], base: str, log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert process.poll() is None, f"exited {process.returncode}: {log.read_text()}"
        try:
            requests.get(f"{base}/healthz", timeout=5).raise_for_status()
            return
        except requests.ConnectionError:
            time.sleep(0.05)  # gunicorn has not bound the port yet
    raise AssertionError(f"no /healthz within 20 s: {log.read_text()}")


def test_the_web_process_answers_an_upload_and_stops_cleanly_on_sigterm(
    slack: SlackEmulator, tmp_path: Path
):
    port = free_port()
    env = process_env(
        PORT=str(port),
        SLACK_BOT_TOKEN=slack.bot_token,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=slack.api_url,
        DETECT_WORKERS="2",
        SHUTDOWN_GRACE=str(SHUTDOWN_GRACE),
    )
    log = tmp_path / "web.log"
    base, url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}{SLACK_PATH}"
    with log.open("wb") as stderr:
        # cwd: an empty directory, so no stray .env is read.
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--http"], cwd=tmp_path, env=env, stderr=stderr
        )
    try:
        wait_until_serving(process, base, log)

        cat, status = share(slack, url, "chelsea.png")
        assert status == 200
        wait_for_reply(slack, cat["ts"], CHANNEL)
        (reply,) = slack.replies(cat["ts"], CHANNEL)
        assert re.search(r"chelsea\.png: cat \d+%", reply.args["text"])

        # A second upload, still being worked on when the platform stops the dyno: Slack rate
        # limits its first call (the :eyes: reaction) for a second.
        slack.fail_next("reactions.add", 429, retry_after=1)
        person, status = share(slack, url, "astronaut.png")
        assert status == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=STOP_WITHIN) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    (answer,) = slack.replies(person["ts"], CHANNEL)
    assert re.search(r"astronaut\.png: person \d+%", answer.args["text"])
    assert slack.reactions(CHANNEL, person["ts"]) == ["white_check_mark"]
    logged = log.read_text()
    assert "signed in as @imagebot in workspace Emulated Workspace" in logged
    assert "Traceback" not in logged
    # Bolt's note that our client's token wins over SLACK_BOT_TOKEN (the same token) is dropped.
    assert " WARNING " not in logged, logged
    assert slack.bot_token not in logged and SIGNING_SECRET not in logged


def procfile() -> dict[str, list[str]]:
    lines = (REPO / "Procfile").read_text().splitlines()
    entries = [line.split(":", 1) for line in lines if line.strip()]
    return {name.strip(): shlex.split(command) for name, command in entries}


def test_the_procfile_runs_http_on_web_and_the_queue_worker_on_worker():
    processes = procfile()

    assert set(processes) == {"web", "worker"}
    for command in processes.values():
        assert command[:3] == ["python", "-m", "bot"]
    web, worker = (_parser().parse_args(processes[name][3:]) for name in ("web", "worker"))
    assert (web.command, web.http, web.socket_mode) == ("run", True, False)
    assert worker.command == "worker"
