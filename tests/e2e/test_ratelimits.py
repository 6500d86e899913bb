"""A busy workspace within Slack's real rate limits, end to end: the emulator enforces the published
limits (tests/support/slack_emulator/ratelimits.py) on the bot running as in production. Every upload
is answered once, and no answer waits on a reaction; `/detect` with no link finds the latest image
with files.list, as often as people ask, where history would allow one call a minute."""

from __future__ import annotations

import time
from functools import partial

import pytest

from tests.support.slack_emulator import Call, SlackEmulator
from tests.support.slack_webapi import bot_client
from tests.support.slackbot import (
    CHANNEL,
    REPLY_TIMEOUT,
    USER,
    idle,
    running_bot,
    shared_photo,
    wait_for_reply,
)
from tests.support.waiting import watching

CHANNELS = ("C0BUSY0001", "C0BUSY0002", "C0BUSY0003")
BURST = 12
SPENT = 45  # of the workspace's 50 reactions.add a minute (Tier 3)
ANSWERED_WITHIN = 30.0  # seconds for the burst: half of the Retry-After its reactions meet


def posted(slack: SlackEmulator, since: int) -> list[Call]:
    """The chat.postMessage calls Slack accepted, after the first `since` calls."""
    return [c for c in slack.calls_to("chat.postMessage")[since:] if c.status == 200]


def answered_twice(slack: SlackEmulator, since: int) -> bool:
    return len(posted(slack, since)) >= 2


def test_a_burst_in_one_workspace_is_answered_once_each_and_no_answer_waits_on_a_reaction(
    slack: SlackEmulator,
):
    slack.enforce_rate_limits()
    # A minute Slack remembers and the bot does not (it has just restarted): most of the
    # workspace's reactions.add spent, so that Slack refuses the burst's marks after five.
    client = bot_client(slack, slack.bot_token)
    for n in range(SPENT):
        client.reactions_add(channel="C0EARLIER1", timestamp=f"1.{n:06d}", name="eyes")

    with running_bot(slack) as bot:
        started = time.monotonic()
        uploads = []
        for n in range(BURST):
            channel = CHANNELS[n % len(CHANNELS)]
            message, envelope = shared_photo(slack, filename=f"cat-{n}.png", channel=channel)
            assert bot.post_event(envelope).status_code == 200
            uploads.append((channel, message["ts"]))
        for channel, ts in uploads:
            wait_for_reply(slack, ts, channel, status=200, timeout=ANSWERED_WITHIN)
        answered = time.monotonic() - started
        idle(bot)

    for channel, ts in uploads:
        assert len(slack.replies(ts, channel, status=200)) == 1
    marks = [c for c in slack.calls_to("reactions.add") if c.args["channel"] in CHANNELS]
    statuses = [c.status for c in marks]
    # Five marks fit; Slack refused the next, and its Retry-After kept the others from trying
    # (two worker threads may each have tried one before it was known). None was tried twice.
    assert statuses[:5] == [200] * 5 and 1 <= statuses.count(429) <= 2, statuses
    assert len(statuses) == 5 + statuses.count(429)
    assert len({c.args["timestamp"] for c in marks}) == len(marks)
    # No answer waited on a reaction: each reply went before its message's mark was tried, and
    # the burst was answered well within the Retry-After (about a minute) the marks met.
    assert answered < ANSWERED_WITHIN
    order = [(c.method, c.args.get("thread_ts") or c.args.get("timestamp")) for c in slack.calls]
    for call in marks:
        ts = call.args["timestamp"]
        assert order.index(("chat.postMessage", ts)) < order.index(("reactions.add", ts))


def test_detect_with_no_link_finds_the_latest_image_three_times_in_a_minute_in_a_channel(
    slack: SlackEmulator,
):
    slack.enforce_rate_limits()  # an app outside the Marketplace: history once a minute
    with running_bot(slack) as bot:
        for name, found in [
            ("chelsea.png", "cat"),
            ("astronaut.png", "person"),
            ("coffee.png", "cup"),
        ]:
            message, envelope = shared_photo(slack, name)
            assert bot.post_event(envelope).status_code == 200
            wait_for_reply(slack, message["ts"], CHANNEL, status=200)
            idle(bot)  # its annotated image is in the channel now: newer, and the bot's own
            posts = len(slack.calls_to("chat.postMessage"))

            assert bot.command("cat, person, cup").status_code == 200
            assert slack.wait_until(partial(answered_twice, slack, posts), REPLY_TIMEOUT)
            announcement, reply = posted(slack, posts)[:2]
            assert (
                announcement.args["text"]
                == f"<@{USER}> asked to detect cat, person, cup in 1 image"
            )
            assert reply.args["thread_ts"] == announcement.response["ts"]
            assert reply.args["text"].startswith(f"{name}: {found} ")
            idle(bot)

    assert [c.status for c in slack.calls_to("files.list")] == [200, 200, 200]
    assert not [c for c in slack.calls if c.method.startswith("conversations.")]


def test_a_private_answer_slack_rate_limits_is_given_once_when_its_turn_comes(
    slack: SlackEmulator,
):
    # The job claims its one answer first: the claim must not outlive an answer not given.
    with running_bot(slack) as bot:
        slack.fail_next("chat.postEphemeral", 429, retry_after=1)
        assert bot.command("job 00000000-dead-beef-0000-000000000000").status_code == 200
        limited, shown = slack.wait_for("chat.postEphemeral", 2, timeout=REPLY_TIMEOUT)
        idle(bot)

    assert (limited.status, shown.status) == (429, 200)
    assert shown.at - limited.at >= 0.9  # Retry-After: 1
    assert "I found no job" in shown.args["text"]
    assert len(slack.calls_to("chat.postEphemeral")) == 2


@pytest.mark.parametrize(
    ("minute", "said"), [(1518467820, "from 20:37 UTC"), ("soon", "from this minute")]
)
def test_slack_holding_a_workspaces_events_back_is_logged_and_acknowledged(
    slack: SlackEmulator, minute: object, said: str
):
    # Slack's payload (docs.slack.dev, app_rate_limited): no inner event.
    payload = {
        "token": "Jhj5dZrVaK7ZwHHjRyZWjbDl",
        "type": "app_rate_limited",
        "team_id": slack.team_id,
        "minute_rate_limited": minute,
        "api_app_id": slack.app_id,
    }
    with running_bot(slack) as bot, watching("bot.listeners.events") as log:
        answer = bot.post_event(payload)

    assert (answer.status_code, answer.content) == (200, b"")
    (record,) = log.records
    assert record.levelname == "ERROR"
    assert record.getMessage() == (
        f"Slack is holding back the events of workspace T111 {said} (app_rate_limited: over "
        "30,000 events in an hour); photos shared meanwhile get no answer"
    )
