"""The emulator enforces Slack's published rate limits once asked: each method's tier from its spec,
per workspace; chat.postMessage per channel; history for an app outside the Marketplace; a 429 with
Retry-After as Slack answers it. Its clock is injected: no test waits out a window. Slow answers
and requests that never reach Slack, as tests inject them, are here too."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
import requests
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.pacing import METHOD_TIERS, PER_CHANNEL
from tests.support.slack_emulator import CONTRACTS, SlackEmulator
from tests.support.slack_webapi import bot_client


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def limited(clock: Clock) -> Iterator[SlackEmulator]:
    with SlackEmulator(clock=clock) as emulator:
        emulator.enforce_rate_limits()
        yield emulator


def refused(call: object) -> tuple[int, str | None, str]:
    """(status, Retry-After, error) of a call Slack refused."""
    with pytest.raises(SlackApiError) as error:
        call()  # type: ignore[operator]
    response = error.value.response
    headers = {k.lower(): v for k, v in response.headers.items()}
    return response.status_code, headers.get("retry-after"), response["error"]


def test_the_limits_are_off_unless_a_test_asks(slack: SlackEmulator, client: WebClient):
    slack.add_channel("COFF", team=slack.team_id)
    for n in range(60):
        client.reactions_add(channel="COFF", timestamp=f"1.{n:06d}", name="eyes")
    assert slack.rate_limits is False


def test_a_tier_3_method_takes_50_calls_a_minute_then_429_with_retry_after(
    limited: SlackEmulator, clock: Clock
):
    client = bot_client(limited, limited.bot_token)
    for n in range(50):
        client.reactions_add(channel="C1", timestamp=f"1.{n:06d}", name="eyes")
    clock.now += 45

    assert refused(lambda: client.reactions_add(channel="C1", timestamp="2.0", name="eyes")) == (
        429,
        "15",
        "ratelimited",
    )
    assert limited.reactions("C1", "2.0") == []  # refused calls do not run
    # Another method has its own budget.
    assert client.chat_postEphemeral(channel="C1", user="U111", text="hi")["ok"]
    clock.now += 15
    assert client.reactions_add(channel="C1", timestamp="2.0", name="eyes")["ok"]
    assert [c.status for c in limited.calls_to("reactions.add")][-2:] == [429, 200]


def test_each_workspace_has_its_own_budget(limited: SlackEmulator):
    other = limited.add_workspace("T222")
    limited.add_channel("C222", team="T222")
    ours, theirs = bot_client(limited, limited.bot_token), bot_client(limited, other.bot_token)
    for n in range(20):  # reactions.remove is Tier 2: 20 a minute
        ours.reactions_add(channel="C1", timestamp=f"1.{n:06d}", name="eyes")
        ours.reactions_remove(channel="C1", timestamp=f"1.{n:06d}", name="eyes")

    assert (
        refused(lambda: ours.reactions_remove(channel="C1", timestamp="1.0", name="eyes"))[0] == 429
    )
    theirs.reactions_add(channel="C222", timestamp="1.0", name="eyes")
    assert theirs.reactions_remove(channel="C222", timestamp="1.0", name="eyes")["ok"]


def test_chat_post_message_goes_about_once_a_second_per_channel(
    limited: SlackEmulator, clock: Clock
):
    client = bot_client(limited, limited.bot_token)
    for n in range(3):  # a short burst
        client.chat_postMessage(channel="C1", text=f"{n}")
    status, retry_after, _ = refused(lambda: client.chat_postMessage(channel="C1", text="3"))
    assert (status, retry_after) == (429, "3")
    assert client.chat_postMessage(channel="C2", text="elsewhere")["ok"]
    clock.now += 3
    assert client.chat_postMessage(channel="C1", text="3")["ok"]  # the burst is 3 s old


def test_history_for_an_app_outside_the_marketplace_is_once_a_minute_and_15_messages(
    limited: SlackEmulator, clock: Clock
):
    for n in range(20):
        limited.add_message("CHIST", f"message {n}")
    client = bot_client(limited, limited.bot_token)

    first = client.conversations_history(channel="CHIST", limit=50)
    assert len(first["messages"]) == 15
    assert client.conversations_replies(channel="CHIST", ts=first["messages"][0]["ts"])["ok"]
    assert refused(lambda: client.conversations_history(channel="CHIST"))[:2] == (429, "60")
    clock.now += 60
    limited.enforce_rate_limits(marketplace=True)  # listed: Tier 3, and no cap on `limit`
    assert len(client.conversations_history(channel="CHIST", limit=50)["messages"]) == 20
    assert client.conversations_history(channel="CHIST")["ok"]


def test_every_method_the_bot_paces_has_the_tier_slacks_docs_give_it():
    # The bot keeps its own table (bot/slack/pacing.py); the emulator reads Slack's specs.
    specs = CONTRACTS / "specs" / "methods"
    for method, tier in METHOD_TIERS.items():
        assert json.loads((specs / f"{method}.json").read_text())["rate_limits"] == f"t{tier}"
    # chat.postMessage is "special": paced per channel instead.
    assert json.loads((specs / f"{PER_CHANNEL}.json").read_text())["rate_limits"] == "t5"


def test_a_slow_answer_comes_after_its_delay_and_a_lost_request_never_runs(
    slack: SlackEmulator, client: WebClient
):
    slack.add_channel("CSLOW", team=slack.team_id)
    arrived = slack.slow_next("chat.postMessage", 0.3)
    started = time.monotonic()
    assert client.chat_postMessage(channel="CSLOW", text="late")["ok"]
    assert arrived.is_set() and time.monotonic() - started >= 0.3

    lost = slack.slow_next("chat.postMessage", 0.2, reaches_slack=False)
    with pytest.raises(requests.ConnectionError):
        requests.post(
            slack.api_url + "chat.postMessage",
            data={"channel": "CSLOW", "text": "lost"},
            headers={"Authorization": f"Bearer {slack.bot_token}"},
            timeout=5,
        )
    assert lost.is_set()
    assert [m["text"] for m in slack.messages("CSLOW")] == ["late"]
