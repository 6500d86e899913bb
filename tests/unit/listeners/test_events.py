"""listeners.events: an image upload becomes one detection job; everything else is left alone."""

from __future__ import annotations

from typing import Any

from bot.jobs.detect import DetectImages
from bot.jobs.home import PublishHome
from bot.listeners import events
from tests.support.slack_emulator import BOT_USER_ID, TEAM_ID, load_payload
from tests.support.slack_signing import app_home_opened_event, file_share_event
from tests.unit.listeners.conftest import Make

CHANNEL, USER = "C0LISTEN01", "U0LISTEN01"
IMAGE = {"id": "F0IMAGE001", "name": "cat.png", "mimetype": "image/png", "filetype": "png"}
PDF = {"id": "F0REPORT01", "name": "report.pdf", "mimetype": "application/pdf", "filetype": "pdf"}


def shared(files: list[dict[str, Any]], **event: Any) -> dict[str, Any]:
    envelope = file_share_event(files, channel=CHANNEL, ts="1700000000.000100", user=USER, **event)
    return dict(envelope["event"])


def test_an_image_upload_is_one_detection_answered_in_its_thread(listening: Make) -> None:
    listen = listening()
    event = shared([IMAGE, PDF])

    events.message(event, listen.context)
    events.message(event, listen.context)  # Slack's retry of the same message

    (job,) = listen.submitted()
    assert isinstance(job, DetectImages)
    assert (job.team_id, job.channel, job.thread_ts, job.react_to) == (
        TEAM_ID,
        CHANNEL,
        event["ts"],
        event["ts"],
    )
    assert [f["id"] for f in job.files] == [IMAGE["id"]]
    assert job.classes == ("person", "car", "bicycle", "dog", "cat")
    assert not job.announce


def test_an_upload_in_a_thread_is_answered_in_that_thread(listening: Make) -> None:
    listen = listening()
    events.message(shared([IMAGE], thread_ts="1699999999.000100"), listen.context)
    (job,) = listen.submitted()
    assert isinstance(job, DetectImages) and job.thread_ts == "1699999999.000100"


def test_what_is_not_an_image_upload_by_a_person_here_is_left_alone(listening: Make) -> None:
    listen = listening(ALLOWED_CHANNELS="C0ELSEWHERE")
    events.message(shared([IMAGE]), listen.context)  # a channel the bot is not enabled in
    listen = listening()
    events.message(shared([PDF]), listen.context)
    events.message(shared([IMAGE], bot_id="B0ANOTHER1"), listen.context)
    events.message(shared([IMAGE], subtype=None), listen.context)
    events.message({**shared([IMAGE]), "edited": {"user": USER, "ts": "1.0"}}, listen.context)
    assert listen.submitted() == []


def test_with_auto_detect_off_only_an_upload_that_mentions_the_bot_is_looked_at(
    listening: Make,
) -> None:
    listen = listening(AUTO_DETECT="false")
    events.message(shared([IMAGE], text="look at this"), listen.context)
    assert listen.submitted() == []
    events.message(shared([IMAGE], text=f"<@{BOT_USER_ID}> what is it?"), listen.context)
    assert len(listen.submitted()) == 1


def test_the_home_tab_opened_is_published_once_per_delivery(listening: Make) -> None:
    listen = listening()
    body = app_home_opened_event(user=USER, tab="home")
    events.app_home_opened(body["event"], body, listen.context)
    events.app_home_opened(body["event"], body, listen.context)  # a retry: same event id
    messages = app_home_opened_event(user=USER, tab="messages")
    events.app_home_opened(messages["event"], messages, listen.context)

    (job,) = listen.submitted()
    assert isinstance(job, PublishHome) and (job.team_id, job.user) == (TEAM_ID, USER)


def test_a_job_keeps_of_slacks_file_objects_only_what_it_takes_to_fetch_and_name_them(
    listening: Make,
) -> None:
    listen = listening()
    files = load_payload("bolt_message_file_share_event.json")["event"]["files"]
    for file in files:
        file["mimetype"] = "image/png"
    assert {"user", "permalink", "channels"} & files[0].keys()  # Slack's object carries them

    events.message(shared(files), listen.context)

    (job,) = listen.submitted()
    assert isinstance(job, DetectImages) and len(job.files) == len(files)
    for given, kept in zip(files, job.files, strict=True):
        assert kept["id"] == given["id"] and kept["name"] == given["name"]
        assert kept["url_private"] == given["url_private"]
        assert not {"user", "permalink", "channels", "shares", "preview"} & kept.keys()
