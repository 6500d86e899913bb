"""Interactivity end to end: "Report a mistake" on the bot's own replies, and the "Detect objects"
message shortcut, posted to the running bot as signed requests built from Slack's payloads."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from bot.imageintelligence.client import ImageIntelligenceClient, blob_image
from tests.support.faultserver import CLIENT_ID, CLIENT_SECRET, FaultyApi
from tests.support.photos import photo
from tests.support.slack_emulator import SlackEmulator
from tests.support.slack_signing import block_actions_payload, message_shortcut_payload
from tests.support.slackbot import CHANNEL, USER, Bot, hosted, idle, running_bot, wait_for_reply

REPORTER = "U0REPORTER"  # not the person who shared the photo: anyone in the channel may report
UNKNOWN_JOB = "00000000-dead-beef-0000-000000000000"


@pytest.fixture
def bot(slack: SlackEmulator, api: FaultyApi) -> Iterator[Bot]:
    with running_bot(slack, **hosted(api)) as running:
        yield running


def reply_to_upload(bot: Bot, slack: SlackEmulator, name: str) -> dict[str, Any]:
    """The bot's reply to an upload of tests/images/`name`, as Slack stores the message."""
    event, _ = bot.share(slack.add_image(photo(name), name))
    return wait_for_reply(slack, event["ts"], CHANNEL).response["message"]


def feedback_control(message: dict[str, Any]) -> dict[str, Any]:
    """The "Report a mistake" element of the first image's section."""
    accessory = message["blocks"][0]["accessory"]
    assert accessory["action_id"] == "report_mistake"
    return accessory


def click(
    bot: Bot, message: dict[str, Any], element: dict[str, Any], **chosen: Any
) -> dict[str, Any]:
    """Use `element` of `message` as Slack reports it: `selected_option=...` for an overflow
    menu, `value=...` for a button. Returns the action sent."""
    # Slack gives every block a block_id when the message is posted without one.
    action = {
        "type": element["type"],
        "action_id": element["action_id"],
        "block_id": "Yx3kQ",
        "action_ts": "1700000000.123456",
        **chosen,
    }
    payload = block_actions_payload([action], channel=CHANNEL, user=REPORTER, message=message)
    response = bot.interact(payload)
    assert (response.status_code, response.content) == (200, b"")
    return action


def option(element: dict[str, Any], label: str) -> dict[str, Any]:
    return next(o for o in element["options"] if o["text"]["text"] == label)


def feedback_sent(api: FaultyApi) -> list[tuple[str, str, str]]:
    """(jobId, class, code) of every class of every POST /feedback the API received."""
    return [
        (body["jobId"], item["class"], item["code"])
        for body in api.bodies("POST /feedback")
        for item in body["classes"]
    ]


def job_of(message: dict[str, Any]) -> str:
    """The job id a reply shows in its context block ("Job `<id>`")."""
    return str(message["blocks"][-1]["elements"][0]["text"].split("`")[1])


# -- Report a mistake -----------------------------------------------------------------------------


def test_reporting_from_the_overflow_menu_sends_feedback_and_thanks_the_reporter(
    bot: Bot, slack: SlackEmulator, api: FaultyApi
):
    reply = reply_to_upload(bot, slack, "chelsea.png")
    menu = feedback_control(reply)
    assert menu["type"] == "overflow"

    click(bot, reply, menu, selected_option=option(menu, "cat is not there"))
    click(bot, reply, menu, selected_option=option(menu, "dog is there (missed)"))
    thanks = [call.args for call in slack.wait_for("chat.postEphemeral", 2, timeout=10)]

    job = job_of(reply)
    assert sorted(feedback_sent(api)) == [
        (job, "cat", "FALSE_POSITIVE"),
        (job, "dog", "FALSE_NEGATIVE"),
    ]
    assert {(t["channel"], t["user"]) for t in thanks} == {(CHANNEL, REPORTER)}
    assert sorted(t["text"] for t in thanks) == [
        "Thanks! Reported that *cat* is not in that image. It helps improve the detector.",
        "Thanks! Reported that *dog* is in that image but was missed. It helps improve the detector.",
    ]


def test_reporting_from_a_button_sends_its_value(bot: Bot, slack: SlackEmulator, api: FaultyApi):
    slack.add_message(CHANNEL, "", user=USER, files=[slack.add_image(photo("chelsea.png"))])
    bot.command("cat")  # one class found: a single "Report" button instead of a menu
    reply = slack.wait_for("chat.postMessage", 2, timeout=20)[1].response["message"]
    button = feedback_control(reply)
    assert button["type"] == "button"

    click(bot, reply, button, value=button["value"])
    slack.wait_for("chat.postEphemeral", timeout=10)

    assert feedback_sent(api) == [(job_of(reply), "cat", "FALSE_POSITIVE")]


def forged(job: str, class_name: str = "cat", letter: str = "P") -> dict[str, Any]:
    """A chosen option whose value was written by hand, not taken from a reply of the bot."""
    return {
        "selected_option": {
            "text": {"type": "plain_text", "text": "x"},
            "value": f"fb1|{letter}|{job}|{class_name}",
        }
    }


@pytest.mark.parametrize(
    "chosen",
    [
        {"selected_option": {"text": {"type": "plain_text", "text": "x"}, "value": "cat"}},
        forged("job-1", letter="X"),
        forged("../../admin"),
        forged("job-1", class_name=""),
        forged("job-1", class_name="cat\nand more"),
        forged("job-1", class_name="c" * 200),
        {},  # no selected_option at all
        {"selected_option": None},
    ],
    ids=["not-feedback", "code", "job-id", "no-class", "control-char", "too-long", "none", "null"],
)
def test_a_malformed_value_sends_no_feedback_and_breaks_nothing(
    bot: Bot,
    slack: SlackEmulator,
    api: FaultyApi,
    caplog: pytest.LogCaptureFixture,
    chosen: dict[str, Any],
):
    message = slack.add_message(CHANNEL, "a reply", user=slack.bot_user_id)
    menu = {"type": "overflow", "action_id": "report_mistake"}

    click(bot, message, menu, **chosen)
    # Then a well-formed one, which the bot does pass on: the first went nowhere, not yet somewhere.
    click(bot, message, menu, **forged(UNKNOWN_JOB))
    slack.wait_for("chat.postEphemeral", timeout=10)
    idle(bot)

    # The well-formed one is looked up (and not found); the malformed one reached nothing.
    assert api.count("GET /detect/{id}") == 1 and feedback_sent(api) == []
    assert len(slack.calls_to("chat.postEphemeral")) == 1
    assert "ignored a feedback action with a malformed value" in caplog.messages
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_feedback_for_a_job_the_api_does_not_know_is_not_confirmed(
    bot: Bot, slack: SlackEmulator, api: FaultyApi
):
    message = slack.add_message(CHANNEL, "a reply", user=slack.bot_user_id)

    click(bot, message, {"type": "overflow", "action_id": "report_mistake"}, **forged(UNKNOWN_JOB))
    told = slack.wait_for("chat.postEphemeral", timeout=10)[0].args

    assert api.count("POST /feedback") == 0
    assert (told["channel"], told["user"]) == (CHANNEL, REPORTER)
    assert told["text"] == f"I found no job `{UNKNOWN_JOB}` in this workspace. Check the job id."


def test_feedback_on_a_job_another_workspace_ran_is_refused_as_unknown(
    bot: Bot, slack: SlackEmulator, api: FaultyApi
):
    with ImageIntelligenceClient(CLIENT_ID, CLIENT_SECRET, api.base_url) as client:
        theirs = client.detect([blob_image(photo("chelsea.png"))], ["cat"], feed_id="T0ELSEWHERE")
    message = slack.add_message(CHANNEL, "a reply", user=slack.bot_user_id)

    click(bot, message, {"type": "overflow", "action_id": "report_mistake"}, **forged(theirs.id))
    told = slack.wait_for("chat.postEphemeral", timeout=10)[0].args

    assert feedback_sent(api) == []
    assert told["text"] == f"I found no job `{theirs.id}` in this workspace. Check the job id."


# -- the "Detect objects" message shortcut ---------------------------------------------------------


@pytest.mark.parametrize("in_thread", [False, True], ids=["top-level", "in-a-thread"])
def test_detect_objects_on_a_message_with_an_image_replies_in_its_thread(
    bot: Bot, slack: SlackEmulator, api: FaultyApi, in_thread: bool
):
    parent = slack.add_message(CHANNEL, "what is this?", user=USER)
    message = slack.add_message(
        CHANNEL,
        "this one",
        user=USER,
        thread_ts=parent["ts"] if in_thread else None,
        files=[slack.add_image(photo("chelsea.png"), "chelsea.png")],
    )
    thread = parent["ts"] if in_thread else message["ts"]

    response = bot.interact(message_shortcut_payload(message, CHANNEL, user=REPORTER))
    assert (response.status_code, response.content) == (200, b"")
    slack.wait_for("reactions.add", timeout=20)  # the outcome's mark, the job's last call

    (reply,) = slack.replies(thread, CHANNEL)
    assert reply.args["text"].startswith("chelsea.png: cat ")
    assert slack.reactions(CHANNEL, message["ts"]) == ["white_check_mark"]
    assert api.count("POST /detect") == 1


@pytest.mark.parametrize(
    "files",
    [None, [("notes.txt", b"not a picture\n")]],
    ids=["no-files", "no-image-files"],
)
def test_detect_objects_on_a_message_without_images_says_so_to_that_user(
    bot: Bot, slack: SlackEmulator, api: FaultyApi, files: list[tuple[str, bytes]] | None
):
    shared = [slack.add_image(content, name) for name, content in files] if files else None
    message = slack.add_message(CHANNEL, "no pictures here", user=USER, files=shared)

    bot.interact(message_shortcut_payload(message, CHANNEL, user=REPORTER))
    told = slack.wait_for("chat.postEphemeral", timeout=10)[0].args
    idle(bot)

    assert (told["channel"], told["user"]) == (CHANNEL, REPORTER)
    assert told["text"] == "That message has no images I can look at."
    assert not slack.calls_to("chat.postMessage")
    assert api.count("POST /detect") == 0


def test_detect_objects_outside_allowed_channels_says_so_and_detects_nothing(
    slack: SlackEmulator, api: FaultyApi
):
    message = slack.add_message(
        CHANNEL, "", user=USER, files=[slack.add_image(photo("chelsea.png"), "chelsea.png")]
    )
    with running_bot(slack, ALLOWED_CHANNELS="C0ALLOWED1", **hosted(api)) as bot:
        bot.interact(message_shortcut_payload(message, CHANNEL, user=REPORTER))
        told = slack.wait_for("chat.postEphemeral", timeout=10)[0].args
        idle(bot)

    assert (told["channel"], told["user"]) == (CHANNEL, REPORTER)
    assert told["text"] == "I am not enabled in this channel."
    assert not slack.calls_to("chat.postMessage")
    assert api.count("POST /detect") == 0
