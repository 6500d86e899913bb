"""Each file of an upload on its own, end to end: an empty, damaged or unsupported file is named
with its reason and never sent to the API, and every other image of the message gets its result,
with the in-memory queue and with Redis (web and worker)."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image

from bot.config import load_settings
from bot.process.runtime import working
from tests.e2e.test_uploads import found, section, summary
from tests.support.faultserver import faulty_api
from tests.support.photos import photo
from tests.support.redisserver import RedisServer
from tests.support.slack_emulator import SlackEmulator
from tests.support.slackbot import (
    CHANNEL,
    REPLY_TIMEOUT,
    hosted,
    idle,
    running_bot,
    settings_env,
    wait_for_reactions,
    wait_for_reply,
)


def jpeg(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        out = io.BytesIO()
        image.convert("RGB").save(out, "JPEG", quality=90)
        return out.getvalue()


def mixed_message(slack: SlackEmulator) -> list[dict[str, Any]]:
    """A cat with an empty file, a phone's HEIC photo and an SVG drawing, as one message shares them."""
    return [
        slack.add_image(jpeg(photo("chelsea.png")), "cat.jpg"),
        slack.add_image(b"", "empty.png"),
        slack.add_image(photo("formats/chelsea.heic"), "chelsea.heic"),
        slack.add_image(photo("formats/drawing.svg"), "drawing.svg"),
    ]


def assert_each_file_answered_on_its_own(reply: dict[str, Any]) -> None:
    assert found(summary(reply, "cat.jpg")).startswith("cat ")
    assert summary(reply, "empty.png") == "skipped (empty file)"
    assert summary(reply, "chelsea.heic") == "skipped (unsupported format (HEIC))"
    assert summary(reply, "drawing.svg") == "skipped (unsupported format (SVG))"
    assert section(reply, "empty.png") == ":warning: *empty.png* was skipped: empty file"


def test_an_empty_or_unsupported_file_gets_its_reason_and_the_cat_its_result(
    slack: SlackEmulator,
):
    with faulty_api() as api, running_bot(slack, **hosted(api)) as bot:
        files = mixed_message(slack)
        assert [f["mimetype"] for f in files[1:]] == ["image/png", "image/heic", "image/svg+xml"]
        event, _ = bot.share(*files)
        reply = slack.wait_for("chat.postMessage", timeout=REPLY_TIMEOUT)[0].args
        idle(bot)
        (sent,) = api.bodies("POST /detect")

    assert_each_file_answered_on_its_own(reply)
    assert len(slack.calls_to("chat.postMessage")) == 1
    # Only the cat reached the API: a file it cannot read never fails the others' job.
    assert len(sent["images"]) == 1
    assert slack.reactions(CHANNEL, event["ts"]) == ["warning"]
    assert [u.filename for u in slack.uploads] == ["cat-detected.jpg"]


def test_with_redis_an_empty_or_unsupported_file_gets_its_reason_and_the_cat_its_result(
    slack: SlackEmulator, redis: RedisServer
):
    env = settings_env(slack, REDIS_URL=redis.url)
    with (
        running_bot(slack, REDIS_URL=redis.url) as bot,
        working(load_settings(env, dotenv_path=None)),
    ):
        event, _ = bot.share(*mixed_message(slack))
        reply = wait_for_reply(slack, event["ts"])
        wait_for_reactions(slack, event["ts"], ["warning"])
    assert_each_file_answered_on_its_own(reply.args)
    assert slack.replies(event["ts"]) == [reply]
