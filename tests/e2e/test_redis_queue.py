"""The Redis queue in one test process: the web app, a worker and Socket Mode on a real redis-server.

(tests/e2e/test_scale_out.py runs the same as separate processes, with faults; these tests look
closer at one mechanism each: Socket Mode's acks, deliveries that could not be queued or were queued
twice, a Redis that hangs, polls as delayed messages, and a job that keeps failing.)
"""

from __future__ import annotations

import itertools
import json
import logging
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis
import requests

from bot.config import Settings, load_settings
from bot.jobs.detect import DetectImages
from bot.process.runtime import running, working
from bot.process.socket_mode import connected
from bot.queue import Submitted
from bot.sharedredis import NAMESPACE, Outage
from bot.workspaces.settings import Choices
from bot.workspaces.stores import RedisChoices
from tests.support.faultserver import FaultyApi
from tests.support.redisserver import RedisServer
from tests.support.slack_emulator import SlackEmulator
from tests.support.slack_signing import app_uninstalled_event, socket_envelope, tokens_revoked_event
from tests.support.slackbot import (
    CHANNEL,
    REPLY_TIMEOUT,
    Bot,
    hosted,
    running_bot,
    settings_env,
    shared_photo,
    wait_for_reactions,
    wait_for_reply,
)
from tests.support.waiting import until, watching


def settings_for(slack: SlackEmulator, **env: str) -> Settings:
    return load_settings(settings_env(slack, **env), dotenv_path=None)


@contextmanager
def web_and_worker(slack: SlackEmulator, **env: str) -> Iterator[Bot]:
    with running_bot(slack, **env) as bot, working(settings_for(slack, **env)):
        yield bot


def test_socket_mode_with_redis_acks_what_it_queued_and_not_what_it_could_not(
    slack: SlackEmulator, redis: RedisServer
):
    env = {"REDIS_URL": redis.url, "SLACK_APP_TOKEN": slack.app_token}
    settings = settings_for(slack, **env)
    with (
        running(settings) as runtime,
        connected(runtime),
        working(settings),
        watching("bot.sharedredis") as log,
    ):
        message, envelope = shared_photo(slack)
        first = socket_envelope("events_api", envelope)
        assert slack.send_envelope(first) == {"envelope_id": first["envelope_id"]}
        reply = wait_for_reply(slack, message["ts"], status=200)
        assert reply.args["text"].startswith("chelsea.png: cat ")

        # Redis is down: the envelope is not acked, so Slack sends it again later.
        later, later_envelope = shared_photo(slack, filename="later.png")
        refused = socket_envelope("events_api", later_envelope)
        redis.stop()
        try:
            slack.send_socket_message(refused)
            assert log.wait_for(lambda r: "cannot reach Redis" in r.getMessage())
        finally:
            redis.start()
        again = socket_envelope(
            "events_api", refused["payload"], retry_attempt=1, retry_reason="timeout"
        )
        assert slack.send_envelope(again) == {"envelope_id": again["envelope_id"]}
        later_reply = wait_for_reply(slack, later["ts"], status=200)
        assert later_reply.args["text"].startswith("later.png: cat ")
        slack.stop()  # Slack's side first: slack_sdk's client would wait out its receive timeout
    assert [a["envelope_id"] for a in slack.acks] == [first["envelope_id"], again["envelope_id"]]


def test_a_delivery_that_could_not_be_queued_is_taken_when_slack_sends_it_again(
    slack: SlackEmulator, redis: RedisServer
):
    with web_and_worker(slack, REDIS_URL=redis.url) as bot:
        message, envelope = shared_photo(slack)
        # Dramatiq keeps the queue's messages in a hash: a string there makes queueing fail.
        messages = f"{NAMESPACE}:jobs.msgs"
        with redis.client() as client:
            client.delete(messages)
            client.set(messages, "not a hash")
            refused = bot.post_event(envelope)
            marks = client.keys(f"{NAMESPACE}:queued:*")
            client.delete(messages)

        assert refused.status_code == 503
        assert marks == []  # not marked as queued: Slack's next delivery must be taken
        assert bot.post_event(envelope, retry_num=1, retry_reason="http_error").status_code == 200
        reply = wait_for_reply(slack, message["ts"], status=200)
        assert reply.args["text"].startswith("chelsea.png: cat ")


def test_a_redis_that_hangs_gets_slack_a_503_in_time_and_the_retry_is_answered_once(
    slack: SlackEmulator, redis: RedisServer
):
    with web_and_worker(slack, REDIS_URL=redis.url) as bot:
        # An upload first, so that the web process holds a connection: what it sends on it
        # while Redis hangs is run once Redis resumes.
        first, first_envelope = shared_photo(slack, filename="first.png")
        assert bot.post_event(first_envelope).status_code == 200
        wait_for_reply(slack, first["ts"], status=200)
        message, envelope = shared_photo(slack)
        with redis.paused():
            started = time.monotonic()
            refused = bot.post_event(envelope)
            took = time.monotonic() - started
            health = requests.get(f"{bot.base_url}/healthz", timeout=10)
        assert refused.status_code == 503 and took < 3.0  # within Slack's 3 s
        assert (health.status_code, health.text) == (503, "redis: unreachable\n")

        # Slack sends it again; whatever of the first try Redis ran late, it is answered once.
        retried = bot.post_event(envelope, retry_num=1, retry_reason="http_error")
        assert retried.status_code == 200
        reply = wait_for_reply(slack, message["ts"], status=200)
        assert reply.args["text"].startswith("chelsea.png: cat ")
        again = bot.post_event(envelope, retry_num=2, retry_reason="http_error")
        assert again.status_code == 200
        wait_for_reactions(slack, message["ts"], ["white_check_mark"])
    assert slack.replies(message["ts"], status=200) == [reply]


def test_a_delivery_queued_twice_runs_as_one_job_and_is_answered_once(
    slack: SlackEmulator, redis: RedisServer
):
    with web_and_worker(slack, REDIS_URL=redis.url) as bot, redis.client() as client:
        message, envelope = shared_photo(slack)
        assert bot.post_event(envelope).status_code == 200
        # As if Redis had lost the mark that says it is queued: Slack's retry is queued again.
        (mark,) = client.keys(f"{NAMESPACE}:queued:*")
        client.delete(mark)
        retried = bot.post_event(envelope, retry_num=1, retry_reason="http_timeout")
        assert retried.status_code == 200
        reply = wait_for_reply(slack, message["ts"], status=200)
        messages = [f"{NAMESPACE}:{queue}.msgs" for queue in ("jobs", "jobs.DQ")]
        assert until(lambda: sum(client.hlen(key) for key in messages) == 0, REPLY_TIMEOUT)

    assert reply.args["text"].startswith("chelsea.png: cat ")
    assert slack.replies(message["ts"], status=200) == [reply]
    assert len(slack.uploads) == 1


def test_polls_are_delayed_messages_on_the_api_schedule_and_hold_no_thread(
    slack: SlackEmulator, redis: RedisServer, api: FaultyApi
):
    api.finish_after(1.0)
    env = {**hosted(api), "REDIS_URL": redis.url, "DETECT_WORKERS": "1"}
    with web_and_worker(slack, **env) as bot:
        first, first_envelope = shared_photo(slack)
        second, second_envelope = shared_photo(slack, filename="second.png")
        assert bot.post_event(first_envelope).status_code == 200
        assert bot.post_event(second_envelope).status_code == 200
        first_reply = wait_for_reply(slack, first["ts"], status=200)
        assert first_reply.args["text"].startswith("chelsea.png: cat ")
        second_reply = wait_for_reply(slack, second["ts"], status=200)
        assert second_reply.args["text"].startswith("second.png: cat ")

    submits = [r.received_at for r in api.requests if r.route == "POST /detect"]
    first_done = min(api.finish_times.values())
    # The one worker thread took the second upload while the first job ran on the API.
    assert len(submits) == 2 and submits[1] < first_done
    # Each job polled every 150 ms or so while young: some 7 polls per 1 s job, not a flood.
    polls = {
        job: [r.received_at for r in api.requests if r.path == f"/detect/{job}"]
        for job in api.finish_times
    }
    assert all(5 <= len(times) <= 12 for times in polls.values()), polls
    gaps = [b - a for times in polls.values() for a, b in itertools.pairwise(times)]
    assert 0.08 <= statistics.median(gaps) <= 0.3, gaps


def test_a_job_that_keeps_failing_is_retried_then_answered_with_the_usual_error(
    slack: SlackEmulator, redis: RedisServer, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO)
    message, _ = shared_photo(slack)
    # No listener makes this job (Slack files always have an id): every run of it fails.
    broken = DetectImages(
        team_id="T111",
        channel=CHANNEL,
        classes=("cat",),
        thread_ts=message["ts"],
        files=({"file_access": "check_file_info"},),
        react_to=message["ts"],
    )
    settings = settings_for(slack, REDIS_URL=redis.url)
    with running(settings) as runtime, working(settings):
        assert runtime.queue.submit(broken) is Submitted.ACCEPTED
        reply = wait_for_reply(slack, message["ts"], status=200)
        wait_for_reactions(slack, message["ts"], ["warning"])

    assert reply.args["text"] == (
        "Something went wrong while detecting objects; the error has been logged. Try again later."
    )
    assert slack.replies(message["ts"], status=200) == [reply]
    assert caplog.text.count("Retrying message") == 3
    assert "gave up a detect job after 4 tries" in caplog.text


def test_a_reply_slack_hung_up_on_is_posted_by_the_next_try_once(
    slack: SlackEmulator, redis: RedisServer, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO)
    with web_and_worker(slack, REDIS_URL=redis.url) as bot:
        message, envelope = shared_photo(slack)
        # Every try of slack_sdk's (three) loses its connection: the run fails, the queue retries.
        slack.drop_next("chat.postMessage", times=3)
        assert bot.post_event(envelope).status_code == 200
        reply = wait_for_reply(slack, message["ts"], status=200)
        wait_for_reactions(slack, message["ts"], ["white_check_mark"])

    assert reply.args["text"].startswith("chelsea.png: cat ")
    assert slack.replies(message["ts"], status=200) == [reply]
    assert [c.status for c in slack.calls_to("chat.postMessage")] == [0, 0, 0, 200]
    assert caplog.text.count("Retrying message") == 1


@pytest.mark.parametrize("removal", [app_uninstalled_event, tokens_revoked_event])
def test_a_workspace_that_uninstalls_the_app_is_forgotten_everywhere_in_redis(
    slack: SlackEmulator, redis: RedisServer, removal: Callable[..., dict[str, Any]]
):
    team = slack.default_workspace.team_id
    message, envelope = shared_photo(slack)
    failing, _ = shared_photo(slack, filename="failing.png")
    broken = DetectImages(  # a job that keeps failing (see above), kept as a dead letter
        team_id=team,
        channel=CHANNEL,
        classes=("cat",),
        thread_ts=failing["ts"],
        files=({"file_access": "check_file_info"},),
    )
    client = redis.client()
    with web_and_worker(slack, REDIS_URL=redis.url) as bot:
        bot.runtime.queue.submit(broken)
        assert bot.post_event(envelope).status_code == 200
        wait_for_reactions(slack, message["ts"], ["white_check_mark"])
        RedisChoices(client, Outage(redis.url)).save(team, Choices(classes=("cat",)))
        wait_for_reply(slack, failing["ts"], status=200)  # given up: nothing more of it runs
        assert until(lambda: bool(dead_letters_of(client, team)), 30)
        kept = team_data(client, team)
        assert {"journal", "queued", "settings", "api"} <= {key.split(":")[1] for key in kept}

        assert bot.post_event(removal(team_id=team)).status_code == 200
        assert until(lambda: not team_data(client, team), 10)
        assert dead_letters_of(client, team) == []
    client.close()


def team_data(client: redis.Redis, team: str) -> set[str]:
    """The keys of the bot's Redis that hold something of `team`: its own keys, and the embedded
    API's jobs it ran (tagged with the team as their feed)."""
    keys = {key.decode() for key in client.scan_iter(match=f"{NAMESPACE}:*")}
    ours = {key for key in keys if f":{team}:" in key or key.endswith(f":{team}")}
    api_jobs = {
        key
        for key in keys
        if key.startswith(f"{NAMESPACE}:api:job:")
        and json.loads(client.hget(key, "job") or b"{}").get("feedId") == team
    }
    return ours | api_jobs


def dead_letters_of(client: redis.Redis, team: str) -> list[bytes]:
    letters: list[bytes] = client.hvals(f"{NAMESPACE}:jobs.XQ.msgs")  # type: ignore[assignment]
    return [raw for raw in letters if json.loads(json.loads(raw)["args"][0])["team_id"] == team]
