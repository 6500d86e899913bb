"""The database of a many-workspace deployment, on a real PostgreSQL and on SQLite: installations
(with token rotation against the Slack emulator) and each workspace's settings, which are also kept
in Redis when processes share one and no database."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from slack_sdk import WebClient
from slack_sdk.oauth.installation_store import Installation

from bot.config import load_settings
from bot.sharedredis import Outage
from bot.workspaces.database import Database
from bot.workspaces.installations import Installations
from bot.workspaces.serving import serving_workspaces
from bot.workspaces.settings import Choices
from bot.workspaces.stores import ChoicesStore, DatabaseChoices, RedisChoices
from tests.support.redisserver import RedisServer
from tests.support.slack_emulator import AUTHORIZE_PATH, SlackEmulator


def open_database(request: pytest.FixtureRequest, tmp_path: Path, engine: str) -> Database:
    if engine == "postgresql":
        url = request.getfixturevalue("postgres").create_database()
    else:
        url = f"sqlite:///{tmp_path / 'bot.db'}"
    # As the bot reads DATABASE_URL: postgresql:// becomes SQLAlchemy's psycopg 3 URL.
    settings = load_settings(
        {"SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "s", "DATABASE_URL": url},
        dotenv_path=None,
    )
    assert settings.database_url is not None
    opened = Database(settings.database_url)
    request.addfinalizer(opened.close)
    return opened


@pytest.fixture(params=["postgresql", "sqlite"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    return open_database(request, tmp_path, request.param)


@pytest.fixture(params=["postgresql", "sqlite", "redis"])
def new_store(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], ChoicesStore]:
    """Makes a settings store on one shared engine, as each process makes its own."""
    if request.param == "redis":
        server: RedisServer = request.getfixturevalue("redis")
        client = server.client()
        request.addfinalizer(client.close)
        return lambda: RedisChoices(client, Outage(server.url))
    database = open_database(request, tmp_path, request.param)
    return lambda: DatabaseChoices(database)


def test_a_workspaces_settings_are_kept_and_read_by_a_new_store(
    new_store: Callable[[], ChoicesStore],
):
    chosen = Choices(
        classes=("cat", "dog"), auto_detect=False, annotate=True, allowed_channels=frozenset()
    )
    store = new_store()
    assert store.get("T1") == Choices()

    store.save("T1", chosen)
    store.save("T1", Choices(classes=("all",), annotate=False))
    store.save("T2", chosen)

    again = new_store()  # another process, or a restart
    assert again.get("T1") == Choices(classes=("all",), annotate=False)
    assert again.get("T2") == chosen
    assert again.get("T3") == Choices()


def test_processes_sharing_redis_and_no_database_see_each_others_settings(redis: RedisServer):
    env = {"SLACK_BOT_TOKEN": "xoxb-1-2-3", "SLACK_SIGNING_SECRET": "s", "REDIS_URL": redis.url}
    settings = load_settings(env, dotenv_path=None)
    clients = [redis.client(), redis.client()]  # a web and a worker process, say
    with (
        serving_workspaces(settings, clients[0], Outage(redis.url)) as web,
        serving_workspaces(settings, clients[1], Outage(redis.url)) as worker,
    ):
        web.choices.save("T1", Choices(classes=("cat",), annotate=False))
        applied = worker.settings("T1")
    for client in clients:
        client.close()
    assert (applied.detect_classes, applied.annotate) == (("cat",), False)
    assert applied.auto_detect == settings.auto_detect  # not chosen: the environment's


def test_two_processes_saving_a_workspaces_first_settings_at_once_both_succeed(
    new_store: Callable[[], ChoicesStore],
):
    # Each thread has its own store (as each process would); they save every team's first
    # settings at the same moment, so an update-then-insert would insert some team twice.
    stores = [new_store() for _ in range(4)]
    teams = [f"T{n}" for n in range(30)]
    start = threading.Barrier(len(stores))

    def save_all(n: int) -> None:
        start.wait()
        for team in teams:
            stores[n].save(team, Choices(classes=(f"class{n}",)))

    with ThreadPoolExecutor(len(stores)) as pool:
        list(pool.map(save_all, range(len(stores))))  # re-raises any thread's error

    saved = {stores[0].get(team).classes for team in teams}
    assert saved <= {(f"class{n}",) for n in range(len(stores))}
    assert None not in saved


def installation(slack: SlackEmulator, team_id: str, token: str, **bot: object) -> Installation:
    return Installation(
        app_id=slack.app_id,
        team_id=team_id,
        team_name=f"Workspace {team_id}",
        bot_token=token,
        bot_id=f"B{team_id}",
        bot_user_id=f"U{team_id}",
        bot_scopes="chat:write",
        user_id="U111",
        installed_at=time.time(),
        **bot,  # type: ignore[arg-type]
    )


def test_installations_are_found_by_team_and_a_rotating_token_is_refreshed_once(
    database: Database, slack: SlackEmulator
):
    slack.token_rotation, slack.token_lifetime = True, 3_600
    acme = slack.add_workspace("T222", installed=False)
    slack.next_install(team="T222")
    slack.redirect_uri = "https://bot.example.com/slack/oauth_redirect"
    client = WebClient(base_url=slack.api_url)
    # An install as the OAuth flow makes it: the consent's code, exchanged for a rotating token.
    consent = requests.get(
        f"{slack.base_url}{AUTHORIZE_PATH}",
        params={"client_id": slack.client_id, "scope": "chat:write", "state": "s"},
        allow_redirects=False,
        timeout=10,
    )
    code = parse_qs(urlsplit(consent.headers["Location"]).query)["code"][0]
    granted = client.oauth_v2_access(
        client_id=slack.client_id, client_secret=slack.client_secret, code=code
    )
    installations = Installations(
        database,
        client_id=slack.client_id,
        client_secret=slack.client_secret,
        client=client,
        rotation=True,
    )
    installations.store.save(
        installation(
            slack,
            "T222",
            granted["access_token"],
            bot_refresh_token=granted["refresh_token"],
            bot_token_expires_in=granted["expires_in"],
        )
    )
    slack.token_lifetime = 43_200

    first = installations.bot("T222")
    second = installations.bot("T222")

    assert installations.bot("T999") is None
    assert first is not None and second is not None
    assert first.bot_token == second.bot_token == acme.bot_token != granted["access_token"]
    (refresh,) = slack.refreshes
    assert refresh.access_token == acme.bot_token
    assert first.bot_refresh_token == second.bot_refresh_token == refresh.new_refresh_token
