"""listeners.shortcuts: "Detect objects" on a message with images, or a note saying why not."""

from __future__ import annotations

from slack_bolt.context.ack import Ack

from bot.jobs.detect import DetectImages
from bot.jobs.notice import Notice
from bot.listeners import shortcuts
from tests.support.slack_signing import message_shortcut_payload
from tests.unit.listeners.conftest import Make, acked

CHANNEL = "C0LISTEN01"
IMAGE = {"id": "F0IMAGE001", "name": "cat.png", "mimetype": "image/png"}


def shortcut(listening: Make, message: dict, **env: str) -> list:
    listen = listening(**env)
    ack = Ack()
    shortcuts.detect_objects(ack, message_shortcut_payload(message, CHANNEL), listen.context)
    assert acked(ack) == {}
    return listen.submitted()


def test_a_message_with_images_is_detected_and_answered_in_its_thread(listening: Make) -> None:
    (job,) = shortcut(listening, {"ts": "1700000000.000200", "files": [IMAGE]})
    assert isinstance(job, DetectImages)
    assert (job.thread_ts, job.react_to, [f["id"] for f in job.files]) == (
        "1700000000.000200",
        "1700000000.000200",
        ["F0IMAGE001"],
    )


def test_no_images_or_a_channel_not_enabled_gets_a_note(listening: Make) -> None:
    (job,) = shortcut(listening, {"ts": "1700000000.000200", "text": "hello"})
    assert isinstance(job, Notice) and job.notice == "no_images"
    message = {"ts": "1700000000.000200", "files": [IMAGE]}
    (job,) = shortcut(listening, message, ALLOWED_CHANNELS="C0ELSEWHERE")
    assert isinstance(job, Notice) and job.notice == "not_enabled"
