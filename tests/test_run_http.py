"""`python -m bot run --http`, the Procfile's `web:` process: gunicorn serving the real app."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.faultserver import free_port
from tests.slack_emulator import SlackEmulator
from tests.slack_signing import file_share_event, post_signed
from tests.slackbot import CHANNEL, SIGNING_SECRET, USER, photo

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def slack() -> Iterator[SlackEmulator]:
    with SlackEmulator() as emulator:
        yield emulator


def test_the_web_process_answers_an_upload_and_stops_on_sigterm(
    slack: SlackEmulator, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "HOME": str(tmp_path),  # gunicorn leaves nothing in the real $HOME
        "PYTHONPATH": str(ROOT),
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "PORT": str(port),
        # The default SHUTDOWN_GRACE (25.0) is a float; gunicorn takes only an integer timeout.
    }
    for name in ("SHUTDOWN_GRACE", "II_CLIENT_ID", "II_CLIENT_SECRET", "SLACK_APP_TOKEN"):
        env.pop(name, None)
    child = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--http"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            assert child.poll() is None, child.communicate()[1]
            try:
                health = requests.get(f"{base}/healthz", timeout=1)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "the web process did not start"
                time.sleep(0.05)
        assert health.status_code == 200

        file = slack.add_image(photo("chelsea.png"), "chelsea.png")
        message = slack.add_message(CHANNEL, "", user=USER, files=[file])
        envelope = file_share_event([file], channel=CHANNEL, ts=message["ts"], user=USER)
        body = json.dumps(envelope).encode()
        ack = post_signed(f"{base}/slack/events", body, "application/json", SIGNING_SECRET)
        assert ack.status_code == 200
        reply = slack.wait_for("chat.postMessage", timeout=30)[0].args
        assert reply["thread_ts"] == message["ts"]
        assert "cat" in reply["text"].split("no ")[0]

        child.send_signal(signal.SIGTERM)
        _, stderr = child.communicate(timeout=40)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode == 0, stderr
