"""Socket Mode end to end: what `python -m bot run --socket-mode` runs, connected to the emulator.

The app gets its WebSocket URL from `apps.connections.open` (called with the app token), receives
Slack's envelopes on it, acks each by its envelope_id (with the answer, for slash commands) and
replies in threads through the Web API, exactly as over HTTP.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import load_settings
from bot.process.runtime import Runtime, running
from bot.process.socket_mode import connected as socket_mode
from tests.support.cluster import Cluster
from tests.support.slack_emulator import SlackEmulator
from tests.support.slack_signing import (
    message_shortcut_payload,
    slash_command_fields,
    socket_envelope,
)
from tests.support.slackbot import CHANNEL, USER, memory_queue, shared_photo, wait_for_reply


@pytest.fixture(scope="module")
def slack() -> Iterator[SlackEmulator]:
    with SlackEmulator() as emulator:
        yield emulator


@pytest.fixture(scope="module")
def connected(slack: SlackEmulator) -> Iterator[Runtime]:
    """One connection for the module: slack_sdk's client takes a second to close one."""
    # No SLACK_SIGNING_SECRET: Socket Mode does not need one.
    settings = load_settings(
        {
            "SLACK_BOT_TOKEN": slack.bot_token,
            "SLACK_APP_TOKEN": slack.app_token,
            "SLACK_API_URL": slack.api_url,
            "DETECT_WORKERS": "2",
            "DETECT_TIMEOUT": "20",
        },
        dotenv_path=None,
    )
    with running(settings) as runtime, socket_mode(runtime):
        yield runtime
        # Closing Slack's side first: slack_sdk's client otherwise waits out its 3 s receive timeout.
        slack.stop()


@pytest.fixture
def runtime(connected: Runtime) -> Iterator[Runtime]:
    yield connected
    assert memory_queue(connected).join(timeout=20), "a test left work in flight"


def upload(
    slack: SlackEmulator, name: str = "chelsea.png"
) -> tuple[dict[str, Any], dict[str, Any]]:
    """tests/images/`name` shared in CHANNEL: the message, and its Socket Mode envelope."""
    message, envelope = shared_photo(slack, name)
    return message, socket_envelope("events_api", envelope)


def test_an_upload_is_acked_and_answered_in_its_thread_naming_the_cat(
    slack: SlackEmulator, runtime: Runtime
):
    message, envelope = upload(slack)

    assert slack.send_envelope(envelope) == {"envelope_id": envelope["envelope_id"]}

    reply = wait_for_reply(slack, message["ts"], CHANNEL)
    assert re.search(r"chelsea\.png: cat \d+%", reply.args["text"])
    (opened,) = slack.calls_to("apps.connections.open")
    assert opened.headers["Authorization"] == f"Bearer {slack.app_token}"


def test_detect_help_is_answered_in_the_ack_frame(slack: SlackEmulator, runtime: Runtime):
    fields = slash_command_fields("help", channel=CHANNEL, user=USER)
    envelope = socket_envelope("slash_commands", fields)
    calls = len(slack.calls)

    ack = slack.send_envelope(envelope)

    assert ack["envelope_id"] == envelope["envelope_id"]
    usage = ack["payload"]
    assert "`/detect job JOB_ID`" in usage["text"]
    assert "Default classes: person, car, bicycle, dog, cat." in usage["text"]
    assert usage["blocks"][0]["type"] == "section"
    assert memory_queue(runtime).pending == 0 and len(slack.calls) == calls


def test_a_bad_command_is_answered_in_the_ack_frame_with_the_problem(
    slack: SlackEmulator, runtime: Runtime
):
    fields = slash_command_fields("ftp://example.com/cat.png", channel=CHANNEL, user=USER)

    ack = slack.send_envelope(socket_envelope("slash_commands", fields))

    assert "ftp://example.com/cat.png" in ack["payload"]["text"]
    assert "/detect help" in ack["payload"]["text"]


def test_the_detect_objects_shortcut_is_acked_and_answered_in_the_messages_thread(
    slack: SlackEmulator, runtime: Runtime
):
    message, _ = shared_photo(slack)
    envelope = socket_envelope("interactive", message_shortcut_payload(message, CHANNEL, user=USER))

    assert slack.send_envelope(envelope) == {"envelope_id": envelope["envelope_id"]}

    reply = wait_for_reply(slack, message["ts"], CHANNEL)
    assert re.search(r"\bcat \d+%", reply.args["text"])


def test_a_retried_event_is_acked_and_answered_once(slack: SlackEmulator, runtime: Runtime):
    message, first = upload(slack)
    retry = socket_envelope("events_api", first["payload"], retry_attempt=1, retry_reason="timeout")

    assert slack.send_envelope(first) == {"envelope_id": first["envelope_id"]}
    assert slack.send_envelope(retry) == {"envelope_id": retry["envelope_id"]}
    # Something observable after the retry: a later upload answered, and no work left.
    later, envelope = upload(slack, "astronaut.png")
    slack.send_envelope(envelope)
    wait_for_reply(slack, later["ts"], CHANNEL)
    assert memory_queue(runtime).join(timeout=20)

    (reply,) = slack.replies(message["ts"], CHANNEL)
    assert re.search(r"\bcat \d+%", reply.args["text"])
    assert len(slack.replies(later["ts"], CHANNEL)) == 1


def test_the_socket_mode_process_finishes_its_work_and_exits_0_on_sigterm(tmp_path: Path):
    with SlackEmulator() as slack:
        env = {
            "SLACK_BOT_TOKEN": slack.bot_token,
            "SLACK_APP_TOKEN": slack.app_token,
            "SLACK_API_URL": slack.api_url,
            "DETECT_WORKERS": "2",
            "SHUTDOWN_GRACE": "5",
        }
        cluster = Cluster(tmp_path, env)
        try:
            cluster.start(
                "socket-mode", ["run", "--socket-mode"], lambda _: slack.socket_connections > 0
            )
            # In flight at SIGTERM: Slack rate limits the upload's reply for a second, and the job
            # waits for its turn in the queue, on no thread.
            slack.fail_next("chat.postMessage", 429, retry_after=1)
            message, envelope = upload(slack)
            assert slack.send_envelope(envelope) == {"envelope_id": envelope["envelope_id"]}
            code, logged = cluster.terminate("socket-mode", timeout=10)
            assert code == 0, logged
        finally:
            cluster.stop()

        limited, reply = slack.replies(message["ts"], CHANNEL)
        assert (limited.status, reply.status) == (429, 200)
        assert re.search(r"chelsea\.png: cat \d+%", reply.args["text"])
    assert "Traceback" not in logged
    assert slack.bot_token not in logged and slack.app_token not in logged
