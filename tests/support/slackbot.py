"""The bot under test: the real app, served over real HTTP, talking to the Slack emulator.

`running_bot(slack, **env)` builds the settings from `env` the way the process does, starts
everything `python -m bot run --http` starts (the API, the queue and its jobs, the Bolt app) and serves it
through the web process's edge on loopback; requests are built from Slack's own payloads and signed like Slack signs them.
`shared_photo` shares a test photo in the emulator, and `wait_for_reply` / `wait_for_reactions` wait
for the bot's answer to it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import requests

from bot.config import load_settings
from bot.process.runtime import Runtime, running
from bot.process.web import SLACK_PATH, serving
from bot.queue.memory import MemoryQueue
from tests.support.faultserver import CLIENT_ID, CLIENT_SECRET, FaultyApi
from tests.support.photos import photo
from tests.support.slack_emulator import Call, SlackEmulator, Workspace
from tests.support.slack_signing import (
    file_share_event,
    interactive_body,
    post_signed,
    slash_command_body,
)

SIGNING_SECRET = "test-signing-secret-not-real-0f9e8d"
CHANNEL = "C0CHANNEL1"
USER = "U0PERSON01"
REPLY_TIMEOUT = 20.0  # seconds the bot may take to answer a photo


def shared(
    slack: SlackEmulator,
    files: list[dict[str, Any]],
    *,
    channel: str = CHANNEL,
    text: str = "",
    thread_ts: str | None = None,
    team: Workspace | None = None,
    **event: Any,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """USER's message in `channel` (of `team`, default the emulator's own) sharing `files` (from
    `slack.add_image`): the message as the emulator keeps it, and its file_share event's Events API
    envelope (`event` are more of file_share_event's arguments)."""
    message = slack.add_message(channel, text, user=USER, thread_ts=thread_ts, files=list(files))
    if team is not None:
        event.update(team_id=team.team_id, bot_user_id=team.bot_user_id)
    envelope = file_share_event(
        list(files),
        channel=channel,
        ts=message["ts"],
        user=USER,
        thread_ts=thread_ts,
        text=text,
        **event,
    )
    return message, envelope


def shared_photo(
    slack: SlackEmulator,
    name: str = "chelsea.png",
    *,
    filename: str | None = None,
    channel: str = CHANNEL,
    team: Workspace | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """tests/images/`name` shared as the file `filename` (default: `name`), as `shared` shares it:
    (the message, its envelope)."""
    file = slack.add_image(photo(name), filename or name, team=team.team_id if team else None)
    return shared(slack, [file], channel=channel, team=team)


def hosted(api: FaultyApi) -> dict[str, str]:
    """Settings that make the bot use `api` as its hosted API account."""
    return {
        "II_API_URL": api.base_url,
        "II_CLIENT_ID": CLIENT_ID,
        "II_CLIENT_SECRET": CLIENT_SECRET,
    }


@dataclass
class Bot:
    url: str
    runtime: Runtime
    slack: SlackEmulator

    @property
    def base_url(self) -> str:
        """The server's root, where it serves /healthz and the OAuth pages too."""
        return self.url.removesuffix(SLACK_PATH)

    def post_event(self, envelope: dict[str, Any], **kw: Any) -> requests.Response:
        return post_signed(
            self.url, json.dumps(envelope).encode(), "application/json", SIGNING_SECRET, **kw
        )

    def share(
        self, *files: dict[str, Any], channel: str = CHANNEL, text: str = "", **kw: Any
    ) -> tuple[dict[str, Any], requests.Response]:
        """Post a file_share event for `files` (from `slack.add_image`); returns the event and the ack."""
        _, envelope = shared(self.slack, list(files), channel=channel, text=text, **kw)
        return envelope["event"], self.post_event(envelope)

    def command(self, text: str, *, channel: str = CHANNEL, user: str = USER) -> requests.Response:
        body = slash_command_body(text, channel=channel, user=user)
        return post_signed(self.url, body, "application/x-www-form-urlencoded", SIGNING_SECRET)

    def interact(self, payload: dict[str, Any]) -> requests.Response:
        return post_signed(
            self.url,
            interactive_body(payload),
            "application/x-www-form-urlencoded",
            SIGNING_SECRET,
        )


def wait_for_reply(
    slack: SlackEmulator,
    thread_ts: str,
    channel: str | None = None,
    *,
    status: int | None = None,
    timeout: float = REPLY_TIMEOUT,
) -> Call:
    """The bot's first reply in the thread of `thread_ts` (see `SlackEmulator.replies` for
    `channel` and `status`), once it is posted."""
    replied = slack.wait_until(
        lambda: bool(slack.replies(thread_ts, channel, status=status)), timeout
    )
    assert replied, f"no reply in the thread of {thread_ts} within {timeout} s"
    return slack.replies(thread_ts, channel, status=status)[0]


def wait_for_reactions(
    slack: SlackEmulator, ts: str, names: list[str], timeout: float = REPLY_TIMEOUT
) -> None:
    """Wait until the bot's reactions on the message `ts` in CHANNEL are `names`."""
    reacted = slack.wait_until(lambda: slack.reactions(CHANNEL, ts) == names, timeout)
    assert reacted, slack.reactions(CHANNEL, ts)


def memory_queue(runtime: Runtime) -> MemoryQueue:
    """The runtime's queue: the in-memory one, as no REDIS_URL is set."""
    queue = runtime.queue
    assert isinstance(queue, MemoryQueue)
    return queue


def idle(bot: Bot) -> None:
    """Wait until the bot has finished every request it took (its reply, upload and reactions)."""
    assert memory_queue(bot.runtime).join(REPLY_TIMEOUT)


def settings_env(slack: SlackEmulator, **env: str) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "DETECT_WORKERS": "2",
        "DETECT_TIMEOUT": "20",
        **env,
    }


@contextmanager
def running_bot(slack: SlackEmulator, **env: str) -> Iterator[Bot]:
    settings = load_settings(settings_env(slack, **env), dotenv_path=None)
    with running(settings) as runtime, serving(runtime) as server:
        yield Bot(server.url + SLACK_PATH, runtime, slack)
