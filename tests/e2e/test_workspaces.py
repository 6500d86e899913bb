"""Many workspaces: installed through Slack's real OAuth redirect, tokens in a real PostgreSQL.

The bot runs with SLACK_CLIENT_ID/SECRET and DATABASE_URL (a fresh database of the session's
throwaway PostgreSQL per test) against the Slack emulator, which has several workspaces, each
with its own bot token, and refuses a token on another workspace's channels. Installs go through
the bot's install page, the emulator's consent screen and the bot's redirect, as a browser would.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import sqlalchemy
import yaml

from bot.workspaces.database import Database
from bot.workspaces.settings import Choices
from bot.workspaces.stores import DatabaseChoices
from tests.support.cluster import Cluster
from tests.support.paths import REPO
from tests.support.slack_emulator import SlackEmulator
from tests.support.slack_signing import app_uninstalled_event, tokens_revoked_event
from tests.support.slackbot import SIGNING_SECRET, Bot, idle, shared_photo
from tests.support.workspaces import (
    Browser,
    install,
    many_workspaces,
    reply_to,
    running_for_many_workspaces,
    upload,
    workspace,
)


@pytest.fixture
def bot(slack: SlackEmulator, database: str) -> Iterator[Bot]:
    with running_for_many_workspaces(slack, database) as running:
        yield running


def test_two_workspaces_install_the_app_and_each_is_answered_with_its_own_token(
    bot: Bot, slack: SlackEmulator
):
    acme, globex = workspace(slack, "T222", "C222"), workspace(slack, "T333", "C333")

    for team in (acme, globex):
        installed = install(bot.base_url, slack, team.team_id)
        assert installed.status_code == 200
        assert f"Installed in {team.name}" in installed.text

    for team, channel in ((acme, "C222"), (globex, "C333")):
        message = upload(bot, slack, team, channel)
        idle(bot)
        (reply,) = slack.replies(message["ts"])
        assert reply.status == 200 and reply.response["ok"]
        assert reply.team == team.team_id and reply.token == team.bot_token
        assert reply.args["text"].startswith("chelsea.png: cat ")
    # Every call the bot made for a workspace used that workspace's token: none was refused.
    assert [c.response.get("error") for c in slack.calls if not c.response.get("ok", True)] == []


def test_the_add_to_slack_link_asks_for_the_scopes_of_the_manifest(bot: Bot):
    link = Browser(bot.base_url).add_to_slack_link()

    asked = parse_qs(urlsplit(link).query)["scope"][0].split(",")
    manifest = yaml.safe_load((REPO / "manifest.yml").read_text())
    assert sorted(asked) == sorted(manifest["oauth_config"]["scopes"]["bot"])


@pytest.mark.parametrize(
    ("query", "status", "title"),
    [
        (
            "state=forged-state&code=anything",
            400,
            "This installation link is no longer valid",
        ),
        ("error=access_denied&state=x", 200, "The installation was cancelled"),
        ("", 400, "This installation link is no longer valid"),
    ],
)
def test_a_forged_state_or_a_denied_install_gets_a_readable_page(
    bot: Bot, query: str, status: int, title: str
):
    page = requests.get(f"{bot.base_url}/slack/oauth_redirect?{query}", timeout=10)

    assert (page.status_code, page.headers["Content-Type"]) == (status, "text/html; charset=utf-8")
    assert f"<h1>{title}</h1>" in page.text
    assert "Traceback" not in page.text


def test_a_replayed_redirect_and_a_refused_code_install_nothing(
    bot: Bot, slack: SlackEmulator, database: str
):
    acme = workspace(slack, "T222", "C222")
    denied = install(bot.base_url, slack, acme.team_id, approve=False)
    assert "<h1>The installation was cancelled</h1>" in denied.text

    installed = install(bot.base_url, slack, acme.team_id)
    assert "Installed in" in installed.text
    replayed = requests.get(installed.url, timeout=10)  # the same code and state, once more
    assert replayed.status_code == 400
    assert "<h1>This installation link is no longer valid</h1>" in replayed.text

    slack.client_secret = "not-the-apps-secret"  # Slack refuses the code exchange
    refused = install(bot.base_url, slack, acme.team_id)
    assert refused.status_code == 400
    assert "<h1>Slack did not complete the installation</h1>" in refused.text


@contextmanager
def database_of(bot: Bot) -> Iterator[Database]:
    """The bot's database, opened as another process would."""
    url = bot.runtime.settings.database_url
    assert url is not None
    db = Database(url)
    try:
        yield db
    finally:
        db.close()


@pytest.mark.parametrize("removal", [app_uninstalled_event, tokens_revoked_event])
def test_uninstalling_or_revoking_the_token_removes_the_installation_and_drops_later_events(
    removal: Callable[..., dict[str, Any]],
    bot: Bot,
    slack: SlackEmulator,
    caplog: pytest.LogCaptureFixture,
):
    acme = workspace(slack, "T222", "C222")
    install(bot.base_url, slack, acme.team_id)
    bot_user = acme.bot_user_id
    with database_of(bot) as db:
        DatabaseChoices(db).save(acme.team_id, Choices(classes=("cat",)))
    slack.uninstall(acme.team_id)

    removed = bot.post_event(removal(team_id=acme.team_id, bot_user_id=bot_user))
    assert removed.status_code == 200
    idle(bot)
    with database_of(bot) as db, db.engine.connect() as conn:
        kept = conn.execute(sqlalchemy.text("SELECT team_id FROM workspace_settings")).all()
    assert kept == []  # the workspace's settings went with it
    calls = len(slack.calls)
    caplog.set_level(logging.ERROR)
    upload(bot, slack, acme, "C222")
    idle(bot)

    assert slack.calls[calls:] == []  # no token of any workspace was used for it
    assert "the AuthorizeResult (returned value from authorize) for it was not found" in caplog.text


# -- token rotation, across processes -------------------------------------------------------------


def test_a_rotating_token_is_refreshed_once_across_two_processes(
    slack: SlackEmulator, database: str, tmp_path: Path
):
    slack.token_rotation = True
    slack.token_lifetime = 3_600  # under the two hours before expiry when the bot refreshes
    env = {
        **many_workspaces(slack, database),
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "SLACK_TOKEN_ROTATION": "true",
    }
    cluster = Cluster(tmp_path, env)
    try:
        first, _ = cluster.start_web("web-1"), cluster.start_web("web-2")
        slack.redirect_uri = f"{first.url}/slack/oauth_redirect"
        acme = workspace(slack, "T222", "C222")
        assert "Installed in" in install(str(first.url), slack, "T222").text
        installed_token = acme.bot_token
        slack.token_lifetime = 43_200  # the refreshed token lives twelve hours
        # The refresh takes a second (Slack rate limits it once): the other process, wanting a
        # token meanwhile, waits for it.
        slack.fail_next("oauth.v2.access", 429, retry_after=1)
        uploads = [
            ("web-1", shared_photo(slack, channel="C222", team=acme)),
            ("web-2", shared_photo(slack, channel="C222", team=acme)),
        ]
        with ThreadPoolExecutor(2) as senders:
            acks = list(senders.map(lambda u: cluster.post(u[0], u[1][1]), uploads))
        assert [ack.status_code for ack in acks] == [200, 200]
        replies = [reply_to(slack, message["ts"]) for _, (message, _) in uploads]
    finally:
        cluster.stop()

    (refresh,) = slack.refreshes
    assert refresh.team_id == "T222" and refresh.access_token == acme.bot_token != installed_token
    for reply in replies:
        assert reply.token == acme.bot_token and reply.status == 200
        assert reply.args["text"].startswith("chelsea.png: cat ")
