"""Image uploads end to end: signed Events API requests in, Web API calls to the emulator out."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.slack_emulator import SlackEmulator
from tests.slackbot import CHANNEL, Bot, photo, running_bot


@pytest.fixture
def slack() -> Iterator[SlackEmulator]:
    with SlackEmulator() as emulator:
        yield emulator


@pytest.fixture
def bot(slack: SlackEmulator) -> Iterator[Bot]:
    with running_bot(slack) as running:
        yield running


def test_an_uploaded_photo_gets_one_threaded_reply_naming_what_is_in_it(
    bot: Bot, slack: SlackEmulator
):
    event, ack = bot.share(slack.add_image(photo("chelsea.png"), "chelsea.png"))
    assert ack.status_code == 200

    reply = slack.wait_for("chat.postMessage", timeout=20)[0].args
    assert reply["channel"] == CHANNEL
    assert reply["thread_ts"] == event["ts"]
    assert "chelsea.png" in reply["text"]
    assert "cat" in reply["text"].split("no ")[0]
