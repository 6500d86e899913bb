"""`python -m bot check`: is the configuration complete, and do the API, Redis, the database and Slack
accept it? One line per item. The same checks stop `run` and `worker` from starting on a
configuration that cannot work (`not_ready`)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import redis
import sqlalchemy
from slack_sdk.errors import SlackApiError

from bot.config import Settings
from bot.imageintelligence.errors import ImageIntelligenceError
from bot.process.runtime import open_api
from bot.sharedredis import connect
from bot.sharedredis import where as redis_where
from bot.slack.clients import make_web_client
from bot.slack.pacing import RedisHolds
from bot.workspaces.database import Database

logger = logging.getLogger("bot")


def check(settings: Settings) -> int:
    """`python -m bot check`: a line per item, and 0 only when all is well."""
    results = [_check_api(settings), *_check_queue(settings), *_check_slack(settings)]
    for ok, line in results:
        print(f"{'ok  ' if ok else 'FAIL'} {line}")
    return 0 if all(ok for ok, _ in results) else 1


def _check_api(settings: Settings) -> tuple[bool, str]:
    where = "the embedded API" if settings.uses_embedded_api else settings.ii_api_url
    try:
        with open_api(settings) as client:
            client.access_token()
    except ImageIntelligenceError as error:
        return False, f"Image Intelligence API at {where}: {error}"
    return True, f"Image Intelligence API at {where}: credentials accepted"


def _check_queue(settings: Settings) -> list[tuple[bool, str]]:
    """The queue, and with Redis the 429s Slack answered the deployment's processes (a single
    process keeps them to itself, and logs each)."""
    if not settings.redis_url:
        return [(True, "Queue: in this process's memory (no REDIS_URL): run a single process")]
    where = redis_where(settings.redis_url)
    client = connect(settings.redis_url)
    try:
        client.ping()
        refusals = RedisHolds(client).counts()
    except redis.RedisError as error:
        return [(False, f"Redis at {where}: unreachable ({type(error).__name__})")]
    finally:
        client.close()
    return [
        (True, f"Redis at {where}: reachable; web and worker processes share its queue"),
        (True, f"Slack rate limits: {_refusals(refusals)}"),
    ]


def _refusals(counts: dict[str, int]) -> str:
    if not counts:
        return "no 429 from Slack in the last day"
    by_method = ", ".join(f"{method} {n}" for method, n in sorted(counts.items()))
    return (
        f"Slack answered 429 {sum(counts.values())} time(s) ({by_method}), "
        "counted until a day passes without one"
    )


def _check_slack(settings: Settings) -> list[tuple[bool, str]]:
    missing = _missing_slack_settings(settings, socket_mode=settings.socket_mode)
    if missing:
        return [(False, line) for line in missing]
    transport = (
        _check_app_token(settings)
        if settings.socket_mode
        else (True, "HTTP: SLACK_SIGNING_SECRET is set")
    )
    return [_check_workspaces(settings), transport]


def _check_app_token(settings: Settings) -> tuple[bool, str]:
    """Whether Slack opens a Socket Mode connection for SLACK_APP_TOKEN."""
    try:
        make_web_client(settings, settings.slack_bot_token).apps_connections_open(
            app_token=settings.slack_app_token or ""
        )
    except SlackApiError as error:
        return False, f"SLACK_APP_TOKEN: Slack refused it ({_slack_error(error)})"
    except OSError as error:
        return False, _slack_unreachable(settings, error)
    return True, "Socket Mode: SLACK_APP_TOKEN can open a connection"


def _check_workspaces(settings: Settings) -> tuple[bool, str]:
    """The installations in the database, or the one SLACK_BOT_TOKEN."""
    if settings.many_workspaces:
        return _check_installations(settings)
    return _check_slack_auth(settings)


def _check_installations(settings: Settings) -> tuple[bool, str]:
    assert settings.database_url  # load_settings requires it with SLACK_CLIENT_ID
    database = Database(settings.database_url)
    try:
        with database.engine.connect() as conn:
            table = sqlalchemy.inspect(conn).has_table("slack_bots")
            count = (
                conn.execute(
                    sqlalchemy.text("SELECT COUNT(DISTINCT team_id) FROM slack_bots")
                ).scalar_one()
                if table
                else 0
            )
    except sqlalchemy.exc.SQLAlchemyError as error:
        return False, f"DATABASE_URL: the database cannot be reached ({type(error).__name__})"
    finally:
        database.close()
    return True, f"Slack: installed in {count} workspace(s), kept in the database"


def _check_slack_auth(settings: Settings) -> tuple[bool, str]:
    try:
        auth = make_web_client(settings, settings.slack_bot_token).auth_test()
    except SlackApiError as error:
        return False, f"SLACK_BOT_TOKEN: Slack refused it ({_slack_error(error)})"
    except OSError as error:
        return False, _slack_unreachable(settings, error)
    return True, f"Slack: signed in as @{auth.get('user')} in workspace {auth.get('team')}"


def _slack_error(error: SlackApiError) -> str:
    return str(error.response.get("error") or f"HTTP {error.response.status_code}")


def _slack_unreachable(settings: Settings, error: OSError) -> str:
    # slack_sdk raises urllib's URLError, whose reason is the socket's error.
    reason = getattr(error, "reason", error)
    return f"Slack at {settings.slack_api_url} cannot be reached ({type(reason).__name__})"


def _missing_slack_settings(settings: Settings, *, socket_mode: bool | None) -> list[str]:
    """What the process lacks: over Socket Mode, over HTTP, or (None) as a worker, which only
    calls the Web API."""
    where = "from your app's page at https://api.slack.com/apps"
    missing = []
    if settings.many_workspaces and socket_mode:
        missing.append(
            "SLACK_APP_TOKEN: workspaces install the app over HTTP (Slack's OAuth redirect), "
            "so with SLACK_CLIENT_ID run `python -m bot run --http`"
        )
    if not settings.slack_bot_token and not settings.many_workspaces:
        missing.append(
            f"{_unset(settings, 'SLACK_BOT_TOKEN')}: copy the Bot User OAuth Token (xoxb-…) "
            f"{where}, OAuth & Permissions"
        )
    if socket_mode and not settings.slack_app_token:
        missing.append(
            f"SLACK_APP_TOKEN is not set: create an app-level token (xapp-…) with connections:write "
            f"{where}, Basic Information"
        )
    if socket_mode is False and not settings.slack_signing_secret:
        missing.append(
            f"{_unset(settings, 'SLACK_SIGNING_SECRET')}: copy the Signing Secret {where}, "
            "Basic Information"
        )
    return missing


def _unset(settings: Settings, name: str) -> str:
    if name in settings.placeholders:
        return f"{name} is still .env.example's placeholder"
    return f"{name} is not set"


def not_ready(settings: Settings, *, socket_mode: bool | None) -> str | None:
    """Why the process cannot start (a missing setting, a token Slack refuses), or None."""
    missing = _missing_slack_settings(settings, socket_mode=socket_mode)
    if missing:
        return missing[0]
    checks = [_check_workspaces] + ([_check_app_token] if socket_mode else [])
    for check in checks:
        # The line returned names any failure; slack_sdk would log it again for each of its tries.
        with _quiet("slack_sdk"):
            ok, line = check(settings)
        if not ok:
            return line
        logger.info(line)
    return None


@contextmanager
def _quiet(name: str) -> Iterator[None]:
    """The logger `name` (and its children) logs nothing while entered; for the checks at start,
    before any thread runs."""
    silenced = logging.getLogger(name)
    level = silenced.level
    silenced.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        silenced.setLevel(level)
