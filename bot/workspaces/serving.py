"""The workspaces a process serves: the Slack side of each, what their admins chose, and the one place
that says which settings apply in a workspace."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass

import redis

from bot.config import Settings
from bot.sharedredis import Outage
from bot.slack.clients import InstalledWorkspaces, SingleWorkspace, SlackClients, make_web_client
from bot.slack.files import file_fetcher
from bot.slack.pacing import Pacer
from bot.workspaces.database import Database
from bot.workspaces.installations import Installations
from bot.workspaces.settings import WorkspaceSettings
from bot.workspaces.stores import ChoicesStore, DatabaseChoices, MemoryChoices, RedisChoices


@dataclass(frozen=True)
class Workspaces:
    """`installations` is set when workspaces install the app through the OAuth flow."""

    slack: SlackClients
    choices: ChoicesStore
    installations: Installations | None
    defaults: Settings  # the environment's

    def settings(self, team_id: str) -> WorkspaceSettings:
        """What applies in the workspace now."""
        return WorkspaceSettings.of(self.choices.get(team_id), self.defaults)

    def uninstall(self, team_id: str, enterprise_id: str | None) -> None:
        """Delete the workspace's installation: its events are dropped from now on."""
        if self.installations is not None:
            self.installations.store.delete_all(enterprise_id=enterprise_id, team_id=team_id)


@contextmanager
def serving_workspaces(
    settings: Settings, shared: redis.Redis | None = None, outage: Outage | None = None
) -> Iterator[Workspaces]:
    """SLACK_BOT_TOKEN's one workspace, or (SLACK_CLIENT_ID) every installed one, with the
    database when DATABASE_URL names one. `shared`: the Redis of processes that share a queue,
    reached through `outage`, where they also keep Slack's rate limits."""
    database = Database(settings.database_url) if settings.database_url else None
    pacer = Pacer.shared(shared) if shared is not None else Pacer.memory()
    try:
        files = file_fetcher(settings.slack_api_url, settings.local_api_allow_private_hosts)
        with closing(files):
            choices = _choices_store(database, shared, outage)
            if not settings.many_workspaces:
                yield Workspaces(SingleWorkspace(settings, files, pacer), choices, None, settings)
                return
            assert database and settings.slack_client_id and settings.slack_client_secret
            installations = Installations(
                database,
                client_id=settings.slack_client_id,
                client_secret=settings.slack_client_secret,
                client=make_web_client(settings, None),
                rotation=settings.slack_token_rotation,
            )
            slack = InstalledWorkspaces(installations, settings, files, pacer)
            yield Workspaces(slack, choices, installations, settings)
    finally:
        if database is not None:
            database.close()


def _choices_store(
    database: Database | None, shared: redis.Redis | None, outage: Outage | None
) -> ChoicesStore:
    """Where workspaces' choices are kept: where every process that serves them reads them."""
    if database is not None:
        return DatabaseChoices(database)
    if shared is not None:
        assert outage is not None
        return RedisChoices(shared, outage)
    return MemoryChoices()
