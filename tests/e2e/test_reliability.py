"""Reliability and security of the Slack app, end to end over real HTTP.

Slack's redeliveries, forged and stale requests, acks that never wait on the API, API and Slack
failures, a shutdown with work in flight, bursts, and secrets kept out of logs and replies. The bot
runs as in production (tests/support/slackbot.py) against the Slack emulator; the API is the
embedded one with its real detector, or a tests/support/faultserver.py API when a test injects
faults.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.support.faultserver import (
    CLIENT_ID,
    CLIENT_SECRET,
    FaultyApi,
    first_poll_seen,
    free_port,
)
from tests.support.photos import photo
from tests.support.slack_emulator import SlackEmulator, load_payload
from tests.support.slack_signing import post_signed
from tests.support.slackbot import (
    CHANNEL,
    REPLY_TIMEOUT,
    SIGNING_SECRET,
    USER,
    Bot,
    hosted,
    idle,
    memory_queue,
    running_bot,
    shared_photo,
)
from tests.support.waiting import until, watching

INTERRUPTED = "The bot was restarting and could not finish this one. Please try again."
BUSY = "The bot has too much work queued right now. Try again in a minute."
RESTARTING = "The bot is restarting and is not taking new work. Try again in a minute."


@pytest.fixture
def bot(slack: SlackEmulator) -> Iterator[Bot]:
    with running_bot(slack) as running:
        yield running


# -- helpers ------------------------------------------------------------------------------------


def share_cat(bot: Bot, slack: SlackEmulator, name: str = "chelsea.png") -> dict[str, Any]:
    event, ack = bot.share(slack.add_image(photo("chelsea.png"), name))
    assert ack.status_code == 200
    return event


def thread_texts(bot: Bot, ts: str) -> list[str]:
    return [call.args["text"] for call in bot.slack.replies(ts, CHANNEL)]


def everything_posted(slack: SlackEmulator) -> str:
    """The arguments of every chat.* call the bot made, as one string to search."""
    return "\n".join(
        json.dumps(call.args) for call in slack.calls if call.method.startswith("chat.")
    )


# -- deliveries ---------------------------------------------------------------------------------


def test_a_delivery_slack_retries_is_answered_once(bot: Bot, slack: SlackEmulator):
    message, envelope = shared_photo(slack)

    assert bot.post_event(envelope).status_code == 200
    # Slack gave up waiting on the first delivery and sends the same event again, while the
    # first is still being worked on, and once more after it was answered.
    assert bot.post_event(envelope, retry_num=1, retry_reason="http_timeout").status_code == 200
    slack.wait_for("chat.postMessage", timeout=REPLY_TIMEOUT)
    idle(bot)
    assert bot.post_event(envelope, retry_num=2, retry_reason="http_timeout").status_code == 200
    answer_later = share_cat(bot, slack, "later.png")  # something observable after the retries
    slack.wait_for("chat.postMessage", 2, timeout=REPLY_TIMEOUT)
    idle(bot)

    assert len(slack.replies(message["ts"], CHANNEL)) == 1
    assert len(slack.replies(answer_later["ts"], CHANNEL)) == 1
    assert len(slack.calls_to("chat.postMessage")) == 2
    assert slack.reactions(CHANNEL, message["ts"]) == ["white_check_mark"]


def test_forged_and_stale_requests_get_401_and_no_reply(bot: Bot, slack: SlackEmulator):
    _, envelope = shared_photo(slack)
    body = json.dumps(envelope).encode()

    forged = post_signed(bot.url, body, "application/json", "not-the-signing-secret")
    stale = post_signed(
        bot.url, body, "application/json", SIGNING_SECRET, timestamp=int(time.time()) - 301
    )
    unsigned = requests.post(
        bot.url, data=body, headers={"Content-Type": "application/json"}, timeout=10
    )
    assert (forged.status_code, stale.status_code, unsigned.status_code) == (401, 401, 401)

    later = share_cat(bot, slack, "later.png")
    slack.wait_for("chat.postMessage", timeout=REPLY_TIMEOUT)
    idle(bot)
    assert [c.args["thread_ts"] for c in slack.calls_to("chat.postMessage")] == [later["ts"]]
    assert slack.reactions(CHANNEL, envelope["event"]["ts"]) == []


def test_url_verification_is_answered_with_the_challenge(bot: Bot, slack: SlackEmulator):
    payload = load_payload("bolt_url_verification.json")
    answer = bot.post_event(payload)
    assert answer.status_code == 200
    assert answer.json() == {"challenge": payload["challenge"]}
    assert [c.method for c in slack.calls] == []


# -- the ack never waits ------------------------------------------------------------------------


def test_the_ack_never_waits_on_the_api(slack: SlackEmulator, api: FaultyApi):
    api.hold_jobs()  # every job stays IN_PROGRESS until released
    with running_bot(slack, **hosted(api)) as bot:
        polled = first_poll_seen(api)
        shared: list[dict[str, Any]] = []
        acks: list[float] = []
        # More uploads than the two workers: once the first one's job is being waited on, the
        # second holds the other worker and the rest wait in the queue.
        for n in range(5):
            started = time.monotonic()
            shared.append(share_cat(bot, slack, f"cat-{n}.png"))
            acks.append(time.monotonic() - started)
            if n == 0:
                assert polled.wait(REPLY_TIMEOUT)
        assert max(acks) < 0.5, f"acks took {[f'{a * 1e3:.0f} ms' for a in acks]}"
        assert slack.calls_to("chat.postMessage") == []

        api.hold_jobs(0)
        slack.wait_for("chat.postMessage", 5, timeout=REPLY_TIMEOUT)
        idle(bot)
    for event in shared:
        (text,) = thread_texts(bot, event["ts"])
        assert text.startswith(f"{event['files'][0]['name']}: cat ")


# -- failures -----------------------------------------------------------------------------------


def test_an_api_answering_503_gets_a_reply_saying_so(slack: SlackEmulator, api: FaultyApi):
    api.respond(
        "POST /detect",
        503,
        {"error": {"code": "unavailable", "message": "down for maintenance"}},
        [("Retry-After", "0")],
        times=None,
    )
    with running_bot(slack, **hosted(api)) as bot:
        event = share_cat(bot, slack)
        slack.wait_for("chat.postMessage", timeout=REPLY_TIMEOUT)
        idle(bot)
    assert api.count("POST /detect") == 3
    assert thread_texts(bot, event["ts"]) == [
        "Image Intelligence API unavailable (HTTP 503) after 3 tries. Try again later. "
        "No results for 1 image."
    ]
    assert slack.reactions(CHANNEL, event["ts"]) == ["warning"]


def test_refused_api_credentials_reply_that_the_bot_is_misconfigured_and_log_an_error(
    slack: SlackEmulator, api: FaultyApi, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-SECRET-7d1e0a93c4"
    with running_bot(slack, **{**hosted(api), "II_CLIENT_SECRET": wrong}) as bot:
        event = share_cat(bot, slack)
        slack.wait_for("chat.postMessage", timeout=REPLY_TIMEOUT)
        idle(bot)

    assert api.bodies("POST /oauth/token")[0]["clientSecret"] == wrong  # it was really sent
    assert api.count("POST /detect") == 0
    (text,) = thread_texts(bot, event["ts"])
    assert text.startswith("The bot is misconfigured: its Image Intelligence credentials were")
    assert "II_CLIENT_ID / II_CLIENT_SECRET" in text
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.name for r in errors] == ["bot.jobs.base"]
    assert "refused the client credentials" in errors[0].getMessage()
    assert slack.reactions(CHANNEL, event["ts"]) == ["warning"]
    for secret in (wrong, CLIENT_SECRET):
        assert secret not in caplog.text
        assert secret not in everything_posted(slack)


def test_a_job_that_outlasts_detect_timeout_gets_a_reply_naming_it(
    slack: SlackEmulator, api: FaultyApi
):
    api.hold_jobs()
    with running_bot(slack, **hosted(api), DETECT_TIMEOUT="0.3") as bot:
        event = share_cat(bot, slack)
        slack.wait_for("chat.postMessage", timeout=REPLY_TIMEOUT)
        idle(bot)
        (job_id,) = {r.path.removeprefix("/detect/") for r in api.requests if r.method == "GET"}
    assert thread_texts(bot, event["ts"]) == [
        "Detection took longer than 0.3 s, so the bot stopped waiting. Try again later, or see "
        f"whether it finished with `/detect job {job_id}`. No results for 1 image."
    ]
    assert slack.reactions(CHANNEL, event["ts"]) == ["warning"]


def test_an_api_that_cannot_be_reached_gets_a_reply_saying_so(slack: SlackEmulator):
    nobody = f"http://127.0.0.1:{free_port()}/v2"
    env = {"II_API_URL": nobody, "II_CLIENT_ID": CLIENT_ID, "II_CLIENT_SECRET": CLIENT_SECRET}
    with running_bot(slack, **env) as bot:
        event = share_cat(bot, slack)
        slack.wait_for("chat.postMessage", timeout=REPLY_TIMEOUT)
        idle(bot)
    assert thread_texts(bot, event["ts"]) == [
        "Could not sign in to the Image Intelligence API. Try again later. No results for 1 image."
    ]
    assert slack.reactions(CHANNEL, event["ts"]) == ["warning"]


def test_slack_rate_limiting_the_reply_delays_it_as_asked_on_no_thread(slack: SlackEmulator):
    with running_bot(slack, DETECT_WORKERS="1") as bot:
        slack.fail_next("chat.postMessage", 429, retry_after=3)
        event = share_cat(bot, slack)
        first = slack.wait_for("chat.postMessage", timeout=REPLY_TIMEOUT)[0]
        limited_at = time.monotonic()
        # The one worker thread is free meanwhile: a lookup is answered before the reply.
        bot.command("job 00000000-dead-beef-0000-000000000000")
        slack.wait_for("chat.postMessage", 2, timeout=REPLY_TIMEOUT)
        waited = time.monotonic() - limited_at
        idle(bot)

    assert (first.status, first.response["error"]) == (429, "ratelimited")
    assert [(c.method, c.status) for c in slack.calls if c.method.startswith("chat.")] == [
        ("chat.postMessage", 429),
        ("chat.postEphemeral", 200),
        ("chat.postMessage", 200),
    ]
    assert waited >= 2.9, "Retry-After: 3 is honoured"
    calls = slack.calls_to("chat.postMessage")
    assert [c.status for c in calls] == [429, 200]
    assert calls[0].args == calls[1].args
    replies = [
        m
        for m in slack.messages(CHANNEL)
        if m.get("thread_ts") == event["ts"] and not m.get("files")  # the annotated image's
    ]
    assert len(replies) == 1 and replies[0]["text"].startswith("chelsea.png: cat ")
    assert slack.reactions(CHANNEL, event["ts"]) == ["white_check_mark"]


# -- shutdown -----------------------------------------------------------------------------------


def test_shutdown_interrupts_work_in_flight_once_and_takes_no_more(
    slack: SlackEmulator, api: FaultyApi
):
    api.hold_jobs()
    env = {**hosted(api), "SHUTDOWN_GRACE": "0.5", "DETECT_WORKERS": "1"}
    with running_bot(slack, **env) as bot, watching("bot.queue") as log:
        polled = first_poll_seen(api)
        running = share_cat(bot, slack, "running.png")
        assert polled.wait(REPLY_TIMEOUT)
        queued = share_cat(bot, slack, "queued.png")
        # Bolt runs event listeners after the ack: wait until this one has queued its work.
        assert until(lambda: memory_queue(bot.runtime).pending == 2)

        started = time.monotonic()
        bot.runtime.shutdown()  # what SIGTERM does
        took = time.monotonic() - started
        assert thread_texts(bot, running["ts"]) == [INTERRUPTED]
        assert thread_texts(bot, queued["ts"]) == [INTERRUPTED]

        # The held job finishes after all: its worker must not answer a second time.
        api.hold_jobs(0)
        idle(bot)
        late = share_cat(bot, slack, "late.png")
        assert log.wait_for(lambda r: r.getMessage().endswith(": stopping"))
        # Slack will not deliver an acked event again: whoever shared it is told, privately.
        (told,) = slack.wait_for("chat.postEphemeral", timeout=REPLY_TIMEOUT)

    assert 0.5 <= took < 2.0
    assert thread_texts(bot, running["ts"]) == [INTERRUPTED]
    assert thread_texts(bot, queued["ts"]) == [INTERRUPTED]
    assert (told.args["user"], told.args["channel"], told.args["text"]) == (
        USER,
        CHANNEL,
        RESTARTING,
    )
    assert thread_texts(bot, late["ts"]) == []
    assert len(slack.calls_to("chat.postMessage")) == 2
    assert slack.reactions(CHANNEL, running["ts"]) == ["warning"]
    assert slack.reactions(CHANNEL, queued["ts"]) == ["warning"]
    assert slack.reactions(CHANNEL, late["ts"]) == []
    # One worker thread, yet both were submitted: a job waiting for its next poll holds no thread.
    assert api.count("POST /detect") == 2


def test_an_upload_past_the_queue_is_told_privately_and_the_others_answered(
    slack: SlackEmulator, api: FaultyApi
):
    api.hold_jobs()
    env = {**hosted(api), "DETECT_WORKERS": "1", "DETECT_QUEUE": "1"}
    with running_bot(slack, **env) as bot:
        polled = first_poll_seen(api)
        running = share_cat(bot, slack, "running.png")
        assert polled.wait(REPLY_TIMEOUT)
        queued = share_cat(bot, slack, "queued.png")
        assert until(lambda: memory_queue(bot.runtime).pending == 2)
        turned_away = share_cat(bot, slack, "one-too-many.png")
        (told,) = slack.wait_for("chat.postEphemeral", timeout=REPLY_TIMEOUT)
        assert (told.args["user"], told.args["text"]) == (USER, BUSY)

        api.hold_jobs(0)
        slack.wait_for("chat.postMessage", count=2, timeout=REPLY_TIMEOUT)
        idle(bot)
    assert thread_texts(bot, turned_away["ts"]) == []
    assert "cat" in thread_texts(bot, running["ts"])[0]
    assert "cat" in thread_texts(bot, queued["ts"])[0]


def test_shutdown_lets_a_job_that_finishes_within_the_grace_period_answer(
    slack: SlackEmulator, api: FaultyApi
):
    api.finish_after(0.3)
    with running_bot(slack, **hosted(api), SHUTDOWN_GRACE="5") as bot:
        polled = first_poll_seen(api)
        event = share_cat(bot, slack)
        assert polled.wait(REPLY_TIMEOUT)

        started = time.monotonic()
        bot.runtime.shutdown()
        took = time.monotonic() - started
        # Shutdown returned: the reply is already there, not an interruption.
        (text,) = thread_texts(bot, event["ts"])
        assert text.startswith("chelsea.png: cat ")

    assert took < 2.0, f"shutdown waited {took:.1f} s for a 0.3 s job"
    assert len(slack.calls_to("chat.postMessage")) == 1
    assert slack.reactions(CHANNEL, event["ts"]) == ["white_check_mark"]


# -- bursts -------------------------------------------------------------------------------------


def test_a_burst_beyond_the_workers_is_all_answered_once(slack: SlackEmulator):
    with running_bot(slack, DETECT_WORKERS="2", ANNOTATE="false") as bot:
        files = [slack.add_image(photo("chelsea.png"), f"cat-{n:02d}.png") for n in range(12)]
        with ThreadPoolExecutor(12) as pool:
            shared = list(pool.map(lambda f: bot.share(f), files))
        assert [ack.status_code for _, ack in shared] == [200] * 12
        slack.wait_for("chat.postMessage", 12, timeout=REPLY_TIMEOUT)
        idle(bot)

    answered = sorted(c.args["thread_ts"] for c in slack.calls_to("chat.postMessage"))
    assert answered == sorted(event["ts"] for event, _ in shared)
    for event, _ in shared:
        (text,) = thread_texts(bot, event["ts"])
        assert text.startswith(f"{event['files'][0]['name']}: cat ")


# -- secrets ------------------------------------------------------------------------------------


def test_secrets_appear_in_no_log_and_no_message(
    slack: SlackEmulator, api: FaultyApi, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    with running_bot(slack, **hosted(api)) as bot:
        # A good upload, an API failure, a file Slack refuses, and a forged request, at DEBUG.
        share_cat(bot, slack)
        slack.wait_for("chat.postMessage", timeout=REPLY_TIMEOUT)
        idle(bot)
        api.respond("POST /detect", 503, {"error": "unavailable"}, [("Retry-After", "0")], times=3)
        share_cat(bot, slack, "second.png")
        slack.wait_for("chat.postMessage", 2, timeout=REPLY_TIMEOUT)
        idle(bot)
        forged = post_signed(bot.url, b"{}", "application/json", "guess")
        assert forged.status_code == 401

    texts = [c.args["text"] for c in slack.calls_to("chat.postMessage")]
    assert texts[0].startswith("chelsea.png: cat ")
    assert texts[1].startswith("Image Intelligence API unavailable (HTTP 503)")
    secrets = [slack.bot_token, SIGNING_SECRET, CLIENT_SECRET, *api.issued_tokens]
    assert len(secrets) == 4  # one access token was issued and used
    logged, posted = caplog.text, everything_posted(slack)
    assert "chat.postMessage" in logged or "POST /detect" in logged  # DEBUG logs were captured
    for secret in secrets:
        assert secret not in logged
        assert secret not in posted
