"""The HTTP deployment: GET /healthz, and `python -m bot run --http` as a real process.

The process is started as the Procfile's `web:` line starts it, with the emulator as Slack: it
serves a signed upload of a real photo, answers it in the thread, and on SIGTERM finishes the work
in flight and exits 0 within its grace period.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import requests

from bot.cli import _parser
from bot.process.web import STOP_HTTP_SECONDS
from tests.support.cluster import Cluster
from tests.support.paths import REPO
from tests.support.slack_emulator import SlackEmulator
from tests.support.slackbot import (
    CHANNEL,
    SIGNING_SECRET,
    running_bot,
    shared_photo,
    wait_for_reply,
)

SHUTDOWN_GRACE = 5
# The requests in flight get STOP_HTTP_SECONDS, then the queued work SHUTDOWN_GRACE.
STOP_WITHIN = STOP_HTTP_SECONDS + SHUTDOWN_GRACE


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


def test_the_web_process_answers_an_upload_and_stops_cleanly_on_sigterm(
    slack: SlackEmulator, tmp_path: Path
):
    env = {
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "DETECT_WORKERS": "2",
        "SHUTDOWN_GRACE": str(SHUTDOWN_GRACE),
    }
    cluster = Cluster(tmp_path, env)
    try:
        web = cluster.start_web("web")
        # Healthy too: Cluster's wait for the process takes a 503 as up.
        assert requests.get(f"{web.url}/healthz", timeout=5).status_code == 200

        cat, envelope = shared_photo(slack)
        assert cluster.post("web", envelope).status_code == 200
        wait_for_reply(slack, cat["ts"], CHANNEL)
        (reply,) = slack.replies(cat["ts"], CHANNEL)
        assert re.search(r"chelsea\.png: cat \d+%", reply.args["text"])

        # A second upload, still being worked on when the platform stops the dyno: Slack takes a
        # second to answer its reply.
        slack.slow_next("chat.postMessage", 1.0)
        person, envelope = shared_photo(slack, "astronaut.png")
        assert cluster.post("web", envelope).status_code == 200
        code, logged = cluster.terminate("web", timeout=STOP_WITHIN)
        assert code == 0, logged
    finally:
        cluster.stop()

    (answer,) = slack.replies(person["ts"], CHANNEL)
    assert re.search(r"astronaut\.png: person \d+%", answer.args["text"])
    assert slack.reactions(CHANNEL, person["ts"]) == ["white_check_mark"]
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
