"""bot.slack.responder against the Slack emulator over real HTTP: every call takes its turn within
Slack's limits; a reaction is skipped rather than waited for; a call that must happen and cannot
go now raises RateLimited (its job runs again later); a 429 is never waited out on the thread."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from bot.config import load_settings
from bot.slack.clients import make_web_client
from bot.slack.pacing import TURN_MARGIN, Pacer, RateLimited
from bot.slack.responder import INLINE_WAIT, JITTER, Responder
from tests.support.slack_emulator import TEAM_ID, SlackEmulator
from tests.support.waiting import watching

CHANNEL = "C0CHANNEL1"


@pytest.fixture
def pacer() -> Pacer:
    return Pacer.memory()


@pytest.fixture
def responder(slack: SlackEmulator, pacer: Pacer) -> Iterator[Responder]:
    env = {"SLACK_BOT_TOKEN": slack.bot_token, "SLACK_API_URL": slack.api_url}
    settings = load_settings(env, dotenv_path=None)
    yield Responder(make_web_client(settings, slack.bot_token, paced=True), pacer, TEAM_ID)


def message(slack: SlackEmulator) -> str:
    return str(slack.add_message(CHANNEL, "a photo")["ts"])


def test_a_reaction_whose_turn_has_not_come_is_skipped_without_a_call(
    slack: SlackEmulator, pacer: Pacer, responder: Responder
):
    for _ in range(50):  # reactions.add is Tier 3: 50 a minute, spent
        assert pacer.turn(TEAM_ID, "reactions.add") == 0.0
    ts = message(slack)

    started = time.monotonic()
    responder.react(CHANNEL, ts, "white_check_mark")

    assert time.monotonic() - started < 0.5
    assert slack.calls_to("reactions.add") == []
    assert slack.reactions(CHANNEL, ts) == []


def test_a_reaction_slack_refuses_is_not_tried_again_and_holds_the_others(
    slack: SlackEmulator, pacer: Pacer, responder: Responder
):
    slack.fail_next("reactions.add", 429, retry_after=30)
    first, second = message(slack), message(slack)

    with watching("bot.slack.responder") as log:
        started = time.monotonic()
        responder.react(CHANNEL, first, "white_check_mark")
        responder.react(CHANNEL, second, "white_check_mark")
        took = time.monotonic() - started

    assert took < 1.0, "a reaction never waits out a Retry-After"
    assert [c.status for c in slack.calls_to("reactions.add")] == [429]  # the second: held
    assert 29 < pacer.turn(TEAM_ID, "reactions.add") <= 30
    assert pacer.refusals() == {"reactions.add": 1}
    assert [r.getMessage() for r in log.records] == [
        "Slack rate-limited reactions.add in T111 for 30 s (429 number 1 for reactions.add)"
    ]


def test_a_reply_slack_refuses_raises_for_its_job_to_run_again_and_holds_the_channel(
    slack: SlackEmulator, responder: Responder
):
    slack.fail_next("chat.postMessage", 429, retry_after=4)
    ts = message(slack)

    started = time.monotonic()
    with pytest.raises(RateLimited) as limited:
        responder.post(CHANNEL, {"text": "cat 97%"}, thread_ts=ts)
    # Slack's Retry-After is every call's to that channel: the next reply does not try.
    with pytest.raises(RateLimited) as held:
        responder.post(CHANNEL, {"text": "dog 88%"}, thread_ts=ts)

    assert time.monotonic() - started < 1.0
    assert limited.value.method == "chat.postMessage"
    assert 4.0 <= limited.value.delay <= 4.3  # Retry-After, and a little jitter
    assert 3.5 < held.value.delay <= 4.3
    assert [c.status for c in slack.calls_to("chat.postMessage")] == [429]
    assert responder.post("C0ELSEWHERE", {"text": "cat 97%"}).ok  # another channel goes


def test_a_reply_past_a_channels_burst_waits_for_its_turn_off_the_thread(
    slack: SlackEmulator, responder: Responder
):
    ts = message(slack)
    for n in range(3):  # chat.postMessage: a short burst in a channel, then one a second
        assert responder.post(CHANNEL, {"text": f"answer {n}"}, thread_ts=ts).ok

    started = time.monotonic()
    with pytest.raises(RateLimited) as limited:
        responder.post(CHANNEL, {"text": "one too many"}, thread_ts=ts)

    assert time.monotonic() - started < 0.5  # its turn is seconds away: not waited for here
    assert INLINE_WAIT < limited.value.delay <= 3 + TURN_MARGIN + JITTER
    assert len(slack.calls_to("chat.postMessage")) == 3


def test_an_upload_names_the_call_slack_refused(slack: SlackEmulator, responder: Responder):
    slack.fail_next("files.completeUploadExternal", 429, retry_after=2)
    ts = message(slack)
    drawn = {"content": b"\x89PNG not really", "filename": "cat-detected.jpg", "title": "cat"}

    with pytest.raises(RateLimited) as limited:
        responder.upload(CHANNEL, ts, [drawn])

    assert limited.value.method == "files.completeUploadExternal"
    assert [c.status for c in slack.calls_to("files.getUploadURLExternal")] == [200]


def test_a_retry_after_of_nothing_is_read_as_a_second(slack: SlackEmulator, responder: Responder):
    slack.fail_next("users.info", 429, retry_after=0)

    with pytest.raises(RateLimited) as limited:
        responder.user("U111")
    assert 1.0 <= limited.value.delay <= 1.3


def test_slacks_other_refusals_are_answers_logged_once(slack: SlackEmulator, responder: Responder):
    slack.error_next("files.list", "not_in_channel")
    with watching("bot.slack.responder") as log:
        answer = responder.images(CHANNEL, 20)
    assert (answer.ok, answer.error) == (False, "not_in_channel")
    assert [r.getMessage() for r in log.records] == [
        "files.list to C0CHANNEL1 failed: not_in_channel"
    ]
