"""The Slack side of one workspace, looked up by team id: its Web API calls and file downloader.

Jobs carry a team id, never a token; they ask `SlackClients.for_team` for what to call Slack with:
the one bot token of `SLACK_BOT_TOKEN` (`SingleWorkspace`), or the token of the workspace's
installation (`InstalledWorkspaces`), refreshed when it rotates. Every workspace's calls share the
process's `Pacer`, which keeps them within Slack's rate limits.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.config import Settings
from bot.net.fetch import Fetcher
from bot.slack.files import SlackFileDownloader
from bot.slack.pacing import Pacer
from bot.slack.responder import Responder
from bot.workspaces.installations import Installations

MAX_CLIENTS = 1_000  # the clients of the workspaces used last, kept for their connections


def make_web_client(settings: Settings, token: str | None, *, paced: bool = False) -> WebClient:
    """A Web API client that retries connection and server errors, and waits out 429s unless the
    caller paces its calls itself (`paced`: the jobs' `Responder`, which never waits out a 429)."""
    waits = [] if paced else [RateLimitErrorRetryHandler(max_retry_count=3)]
    return WebClient(
        token=token,
        base_url=settings.slack_api_url,
        timeout=15,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            *waits,
            ServerErrorRetryHandler(max_retry_count=2),
        ],
        logger=logging.getLogger("slack_sdk.web"),
    )


@dataclass(frozen=True)
class TeamSlack:
    """What a job needs to talk to one workspace."""

    responder: Responder
    files: SlackFileDownloader


@dataclass(frozen=True)
class _TokenClients:
    """The clients of one bot token: kept for their connections, whichever team uses them."""

    web: WebClient
    files: SlackFileDownloader

    @classmethod
    def of(cls, settings: Settings, token: str, fetcher: Fetcher) -> _TokenClients:
        files = SlackFileDownloader(
            token,
            slack_api_url=settings.slack_api_url,
            max_bytes=settings.max_image_bytes,
            fetcher=fetcher,
        )
        return cls(make_web_client(settings, token, paced=True), files)

    def team(self, pacer: Pacer, team_id: str) -> TeamSlack:
        return TeamSlack(Responder(self.web, pacer, team_id), self.files)


class SlackClients(Protocol):
    def for_team(self, team_id: str, enterprise_id: str | None = None) -> TeamSlack | None:
        """The workspace's clients, or None when the app is not installed there."""


class SingleWorkspace:
    """The one workspace whose bot token is `SLACK_BOT_TOKEN`; every team id gets its clients."""

    def __init__(self, settings: Settings, files: Fetcher, pacer: Pacer) -> None:
        self._clients = _TokenClients.of(settings, settings.slack_bot_token or "", files)
        self._pacer = pacer

    def for_team(self, team_id: str, enterprise_id: str | None = None) -> TeamSlack:
        return self._clients.team(self._pacer, team_id)


class InstalledWorkspaces:
    """Every workspace that installed the app, each with its own bot token."""

    def __init__(
        self,
        installations: Installations,
        settings: Settings,
        files: Fetcher,
        pacer: Pacer,
    ) -> None:
        self._installations = installations
        self._settings = settings
        self._files = files
        self._pacer = pacer
        self._lock = threading.Lock()
        self._clients: OrderedDict[str, _TokenClients] = OrderedDict()  # by token

    def for_team(self, team_id: str, enterprise_id: str | None = None) -> TeamSlack | None:
        bot = self._installations.bot(team_id, enterprise_id)
        if bot is None or not bot.bot_token:
            return None
        with self._lock:
            clients = self._clients.get(bot.bot_token)
            if clients is None:
                clients = self._clients[bot.bot_token] = _TokenClients.of(
                    self._settings, bot.bot_token, self._files
                )
                if len(self._clients) > MAX_CLIENTS:
                    self._clients.popitem(last=False)
        return clients.team(self._pacer, team_id)
