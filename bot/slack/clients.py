"""The Slack side of one workspace, looked up by team id: its Web API client and file downloader.

Jobs carry a team id, never a token; they ask `SlackClients.for_team` for what to call Slack with:
the one bot token of `SLACK_BOT_TOKEN` (`SingleWorkspace`), or the token of the workspace's
installation (`InstalledWorkspaces`), refreshed when it rotates.
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
from bot.slack.responder import Responder
from bot.workspaces.installations import Installations

MAX_CLIENTS = 1_000  # the clients of the workspaces used last, kept for their connections


def make_web_client(settings: Settings, token: str | None) -> WebClient:
    """A Web API client that retries what Slack asks to be retried: 429s, connection and server errors."""
    return WebClient(
        token=token,
        base_url=settings.slack_api_url,
        timeout=15,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=3),
            ServerErrorRetryHandler(max_retry_count=2),
        ],
        logger=logging.getLogger("slack_sdk.web"),
    )


@dataclass(frozen=True)
class TeamSlack:
    """What a job needs to talk to one workspace."""

    responder: Responder
    files: SlackFileDownloader


def _team_slack(settings: Settings, token: str, files: Fetcher) -> TeamSlack:
    """The clients of the workspace whose bot token is `token`."""
    downloader = SlackFileDownloader(
        token,
        slack_api_url=settings.slack_api_url,
        max_bytes=settings.max_image_bytes,
        fetcher=files,
    )
    return TeamSlack(Responder(make_web_client(settings, token)), downloader)


class SlackClients(Protocol):
    def for_team(self, team_id: str, enterprise_id: str | None = None) -> TeamSlack | None:
        """The workspace's clients, or None when the app is not installed there."""


class SingleWorkspace:
    """The one workspace whose bot token is `SLACK_BOT_TOKEN`; every team id gets its clients."""

    def __init__(self, settings: Settings, files: Fetcher) -> None:
        self._team = _team_slack(settings, settings.slack_bot_token or "", files)

    def for_team(self, team_id: str, enterprise_id: str | None = None) -> TeamSlack:
        return self._team


class InstalledWorkspaces:
    """Every workspace that installed the app, each with its own bot token."""

    def __init__(self, installations: Installations, settings: Settings, files: Fetcher) -> None:
        self._installations = installations
        self._settings = settings
        self._files = files
        self._lock = threading.Lock()
        self._clients: OrderedDict[str, TeamSlack] = OrderedDict()  # by token

    def for_team(self, team_id: str, enterprise_id: str | None = None) -> TeamSlack | None:
        bot = self._installations.bot(team_id, enterprise_id)
        if bot is None or not bot.bot_token:
            return None
        with self._lock:
            team = self._clients.get(bot.bot_token)
            if team is None:
                team = self._clients[bot.bot_token] = _team_slack(
                    self._settings, bot.bot_token, self._files
                )
                if len(self._clients) > MAX_CLIENTS:
                    self._clients.popitem(last=False)
            return team
