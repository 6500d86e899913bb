"""Fair shares end to end: one workspace's flood does not hold up another workspace's upload, the
people flooding are told privately, once, and the shared queue has a bound; in the single process
and with Redis (a web app and a worker on a real redis-server).

The flood runs in many-workspace mode (as tests/e2e/test_workspaces.py): two workspaces install
the app; in one, two people share thirty messages of ten photos each at once, and right after,
someone in the other workspace shares one photo. The other workspace's upload waits for at most the
flooding workspace's images in flight: 20 here (DETECT_TEAM_IN_FLIGHT), so that the bound holds on a
loaded machine; bench/bench_fairshares.py measures the wait with the defaults.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.config import load_settings
from bot.process.runtime import working
from bot.queue.redis import MESSAGES
from bot.sharedredis import NAMESPACE
from tests.support.faultserver import FaultyApi, first_poll_seen
from tests.support.flood import album, serving, settled
from tests.support.redisserver import RedisServer
from tests.support.slack_emulator import SlackEmulator
from tests.support.slack_signing import message_shortcut_payload
from tests.support.slackbot import (
    CHANNEL,
    REPLY_TIMEOUT,
    USER,
    hosted,
    idle,
    running_bot,
    settings_env,
    shared_photo,
    wait_for_reply,
)
from tests.support.workspaces import install, many_workspaces, workspace

FAIR_WITHIN = 5.0  # "a few seconds"
FLOODERS = ("U0FLOOD01", "U0FLOOD02")
MINE_IN_FLIGHT = (
    "I am still working on earlier images of yours, and I take at most 10 images at a time from "
    "one person. Send this again once I have answered those."
)
OURS_IN_FLIGHT = (
    "I am still working on earlier images from this workspace, and I take at most 20 images at a "
    "time from one workspace. Try again in a minute."
)
BUSY = "The bot has too much work queued right now. Try again in a minute."


@pytest.mark.parametrize("mode", ["memory", "redis"])
def test_a_workspaces_flood_does_not_hold_up_another_workspaces_upload(
    slack: SlackEmulator, database: str, request: pytest.FixtureRequest, mode: str
):
    redis: RedisServer | None = request.getfixturevalue("redis") if mode == "redis" else None
    env = many_workspaces(
        slack,
        database,
        DETECT_USER_IN_FLIGHT="10",
        DETECT_TEAM_IN_FLIGHT="20",
        DETECT_DETAIL="fast",
        DETECT_WORKERS="8",
    )
    with serving(slack, redis, **env) as bot:
        slack.redirect_uri = f"{bot.base_url}/slack/oauth_redirect"
        acme, globex = workspace(slack, "T222", "C222"), workspace(slack, "T333", "C333")
        for team in (acme, globex):
            assert "Installed in" in install(bot.base_url, slack, team.team_id).text
        flood = [album(slack, acme, "C222", FLOODERS[n % 2]) for n in range(30)]
        mine, upload = shared_photo(slack, channel="C333", team=globex)

        with ThreadPoolExecutor(8) as senders:
            acks = list(senders.map(lambda envelope: bot.post_event(envelope).status_code, flood))
        started = time.monotonic()
        assert bot.post_event(upload).status_code == 200
        reply = wait_for_reply(slack, mine["ts"], timeout=REPLY_TIMEOUT)
        took = time.monotonic() - started
        settled(bot, redis)

        # Their share came back as their jobs ended.
        again = album(slack, acme, "C222", FLOODERS[0])
        assert bot.post_event(again).status_code == 200
        wait_for_reply(slack, again["event"]["ts"])

    assert acks == [200] * 30
    assert reply.args["text"].startswith("chelsea.png: cat ")
    assert took < FAIR_WITHIN, f"another workspace's upload waited {took:.1f} s"
    answered = [e for e in flood if slack.replies(e["event"]["ts"])]
    assert 2 <= len(answered) < 30  # at least the workspace's share of 20 images, not the flood
    told = slack.calls_to("chat.postEphemeral")
    assert sorted(call.args["user"] for call in told) == list(FLOODERS)  # each once
    assert {call.args["text"] for call in told} <= {MINE_IN_FLIGHT, OURS_IN_FLIGHT}


def test_the_shared_queue_holds_at_most_detect_queue_jobs_and_the_one_past_it_is_told(
    slack: SlackEmulator, redis: RedisServer
):
    env = {"REDIS_URL": redis.url, "DETECT_QUEUE": "3"}
    with running_bot(slack, **env) as bot:  # a web process, and no worker yet
        shares = [shared_photo(slack, filename=f"cat-{n}.png") for n in range(4)]
        assert [bot.post_event(envelope).status_code for _, envelope in shares] == [200] * 4
        with redis.client() as client:
            queued = sum(client.hlen(key) for key in MESSAGES)
        with working(load_settings(settings_env(slack, **env), dotenv_path=None)):
            replies = [wait_for_reply(slack, message["ts"]) for message, _ in shares[:3]]
            (told,) = slack.wait_for("chat.postEphemeral", timeout=REPLY_TIMEOUT)
            settled(bot, redis)

    assert queued == 4  # three jobs, and the refusal to tell
    assert [r.args["text"].split(":")[0] for r in replies] == [
        "cat-0.png",
        "cat-1.png",
        "cat-2.png",
    ]
    assert (told.args["user"], told.args["channel"], told.args["text"]) == (USER, CHANNEL, BUSY)
    assert slack.replies(shares[3][0]["ts"]) == []


def test_detect_and_the_shortcut_count_against_the_same_share_as_uploads(
    slack: SlackEmulator, api: FaultyApi
):
    api.hold_jobs()
    env = {**hosted(api), "DETECT_USER_IN_FLIGHT": "1"}
    with running_bot(slack, **env) as bot:
        polled = first_poll_seen(api)
        message, upload = shared_photo(slack)
        assert bot.post_event(upload).status_code == 200
        assert polled.wait(REPLY_TIMEOUT)  # the upload's job is in flight

        assert bot.command("https://example.com/cat.jpg").status_code == 200
        (told,) = slack.wait_for("chat.postEphemeral", timeout=REPLY_TIMEOUT)
        shortcut = message_shortcut_payload(message, CHANNEL, user=USER)
        assert bot.interact(shortcut).status_code == 200
        api.hold_jobs(0)
        wait_for_reply(slack, message["ts"])
        idle(bot)

    assert told.args["user"] == USER and told.args["text"].startswith(
        "I am still working on earlier images of yours, and I take at most 1 image at a time"
    )
    assert api.count("POST /detect") == 1  # only the upload's: neither request ran
    assert len(slack.calls_to("chat.postEphemeral")) == 1  # told once a minute


def test_a_job_redis_could_not_queue_gives_its_share_back_and_slacks_retry_is_taken(
    slack: SlackEmulator, redis: RedisServer
):
    env = {"REDIS_URL": redis.url, "DETECT_USER_IN_FLIGHT": "1"}
    with running_bot(slack, **env) as bot, redis.client() as client:
        message, upload = shared_photo(slack)
        # Dramatiq's queue is a list: a string there makes queueing fail after the share was taken.
        client.set(f"{NAMESPACE}:jobs", "not a list")
        assert bot.post_event(upload).status_code == 503
        client.delete(f"{NAMESPACE}:jobs")
        assert bot.post_event(upload, retry_num=1, retry_reason="http_error").status_code == 200
        with working(load_settings(settings_env(slack, **env), dotenv_path=None)):
            reply = wait_for_reply(slack, message["ts"])

    assert reply.args["text"].startswith("chelsea.png: cat ")
    assert slack.calls_to("chat.postEphemeral") == []
