"""Settings, read once from the environment (and a `.env` file) into a frozen dataclass.

Every variable is parsed and checked here, so a bad value stops the program at start with one line
naming it, instead of failing later in a thread. Secrets are kept out of the dataclass's repr.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit

import limits
from dotenv import dotenv_values

from bot.imageintelligence.contract import DEFAULT_BASE_URL, VERIFY_MODES
from bot.net.hosts import private_hosts
from bot.vocabulary import (
    DEFAULT_DETAIL,
    DETAILS,
    NEEDS_EMBEDDED,
    everything,
    parse_classes,
    unknown,
)

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_CLASSES: tuple[str, ...] = ("person", "car", "bicycle", "dog", "cat")
# The example values .env.example holds: a variable still set to one was never filled in, and counts
# as not set (so SLACK_CLIENT_ID's mode is not refused for the example bot token beside it).
PLACEHOLDERS = {
    "SLACK_BOT_TOKEN": "xoxb-your-bot-token",
    "SLACK_SIGNING_SECRET": "your-signing-secret",
}
# Set on the dynos of Heroku (and Dokku), and on Render's instances: a disk wiped at every deploy.
PAAS_VARIABLES = ("DYNO", "RENDER")

T = TypeVar("T")
N = TypeVar("N", int, float)


class ConfigError(ValueError):
    """A configuration variable is missing or malformed; the message names it."""


@dataclass(frozen=True)
class Settings:
    # Image Intelligence API; no client id means "start the embedded API".
    ii_api_url: str = DEFAULT_BASE_URL
    ii_client_id: str | None = None
    ii_client_secret: str | None = field(default=None, repr=False)
    detect_classes: tuple[str, ...] = DEFAULT_CLASSES
    detect_verify: str = "NEVER"
    detect_timeout: float = 60.0
    # The embedded detector: "fast" (one pass) or "thorough" (also over tiles of large images).
    detect_detail: str = DEFAULT_DETAIL
    # The embedded API, when it runs.
    local_api_client_id: str | None = None
    local_api_client_secret: str | None = field(default=None, repr=False)
    local_api_workers: int = 2
    # Hosts `url` images may be on although they resolve to private or loopback addresses.
    local_api_allow_private_hosts: frozenset[str] = frozenset()
    # Slack.
    slack_bot_token: str | None = field(default=None, repr=False)
    slack_signing_secret: str | None = field(default=None, repr=False)
    slack_app_token: str | None = field(default=None, repr=False)
    slack_api_url: str = DEFAULT_SLACK_API_URL
    port: int = 3000
    detect_workers: int = 8
    detect_queue: int = 1000
    # Fair shares (bot/queue/admission.py): the images one person, and one workspace, may have
    # being worked on at once, and may send (a rate in the `limits` notation: "120/minute").
    detect_user_in_flight: int = 30
    detect_team_in_flight: int = 40
    detect_user_rate: str = "120/minute"
    detect_team_rate: str = "300/minute"
    max_image_bytes: int = 10_000_000
    allowed_channels: frozenset[str] = frozenset()
    auto_detect: bool = True
    annotate: bool = True
    shutdown_grace: float = 25.0
    log_level: str = "INFO"
    # Web and worker processes share a queue on Redis; none: one process, work kept in memory.
    redis_url: str | None = field(default=None, repr=False)
    # Seconds without a heartbeat after which a worker counts as dead and its jobs are run again.
    worker_dead_after: float = 15.0
    # Many workspaces: installed through Slack's OAuth flow, tokens kept in DATABASE_URL.
    slack_client_id: str | None = None
    slack_client_secret: str | None = field(default=None, repr=False)
    slack_redirect_uri: str | None = None
    slack_token_rotation: bool = False
    database_url: str | None = field(default=None, repr=False)  # as SQLAlchemy takes it
    # The variables left at .env.example's placeholder (PLACEHOLDERS), which count as not set.
    placeholders: frozenset[str] = frozenset()

    @property
    def uses_embedded_api(self) -> bool:
        return not self.ii_client_id

    @property
    def socket_mode(self) -> bool:
        return bool(self.slack_app_token)

    @property
    def many_workspaces(self) -> bool:
        """Installed through Slack's OAuth flow (SLACK_CLIENT_ID), not with one SLACK_BOT_TOKEN."""
        return bool(self.slack_client_id)


def load_settings(
    environ: Mapping[str, str] | None = None, *, dotenv_path: str | None = ".env"
) -> Settings:
    """Build Settings from `environ` (default: os.environ) over the values of a `.env` file.

    Real environment variables win over `.env`, as python-dotenv does by default.
    """
    values: dict[str, str] = {}
    if dotenv_path and os.path.isfile(dotenv_path):
        values.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
    values.update(os.environ if environ is None else environ)
    env = {k: v.strip() for k, v in values.items() if v is not None and v.strip() != ""}
    placeholders = frozenset(name for name, value in PLACEHOLDERS.items() if env.get(name) == value)
    for name in placeholders:
        del env[name]

    def get(name: str, parse: Callable[[str], T], default: T) -> T:
        raw = env.get(name)
        if raw is None:
            return default
        try:
            return parse(raw)
        except ValueError as exc:
            raise ConfigError(f"{name}: {exc}") from None

    client_id = env.get("II_CLIENT_ID")
    client_secret = env.get("II_CLIENT_SECRET")
    if client_id and not client_secret:
        raise ConfigError("II_CLIENT_SECRET: required when II_CLIENT_ID is set")
    if client_secret and not client_id:
        raise ConfigError("II_CLIENT_ID: required when II_CLIENT_SECRET is set")

    slack_client_id = env.get("SLACK_CLIENT_ID")
    if bool(slack_client_id) != bool(env.get("SLACK_CLIENT_SECRET")):
        missing = "SLACK_CLIENT_SECRET" if slack_client_id else "SLACK_CLIENT_ID"
        raise ConfigError(f"{missing}: SLACK_CLIENT_ID and SLACK_CLIENT_SECRET go together")
    if slack_client_id and env.get("SLACK_BOT_TOKEN"):
        raise ConfigError(
            "SLACK_BOT_TOKEN: set it for one workspace, or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET "
            "for every workspace that installs the app, not both"
        )
    if slack_client_id and not env.get("DATABASE_URL"):
        raise ConfigError(
            "DATABASE_URL is not set: with SLACK_CLIENT_ID the installations are kept in a "
            "database, postgres://... (a PaaS add-on sets it) or sqlite:///path for one process"
        )
    rotation = get("SLACK_TOKEN_ROTATION", parse_bool, False)
    if rotation and not slack_client_id:
        raise ConfigError(
            "SLACK_TOKEN_ROTATION: tokens that rotate come from installs through the OAuth flow; "
            "set SLACK_CLIENT_ID and SLACK_CLIENT_SECRET"
        )
    detect_classes = get("DETECT_CLASSES", parse_classes, DEFAULT_CLASSES)
    if everything(detect_classes) and client_id:
        raise ConfigError(f"DETECT_CLASSES: {NEEDS_EMBEDDED}")
    if not client_id and not everything(detect_classes):
        _check_known(detect_classes)
    database_url = get("DATABASE_URL", _database_url, None)
    if database_url and database_url.startswith("sqlite:"):
        _check_sqlite(database_url, paas=any(name in env for name in PAAS_VARIABLES))
    redis_url = get("REDIS_URL", _redis_url, None)
    verify_redis_tls = get("REDIS_TLS_VERIFY", parse_bool, True)
    if redis_url and not verify_redis_tls:
        redis_url = _unverified(redis_url)

    return Settings(
        ii_api_url=get("II_API_URL", _http_url, DEFAULT_BASE_URL),
        ii_client_id=client_id,
        ii_client_secret=client_secret,
        detect_classes=detect_classes,
        detect_verify=get("DETECT_VERIFY", parse_verify, "NEVER"),
        detect_timeout=get("DETECT_TIMEOUT", _number(float), 60.0),
        detect_detail=get("DETECT_DETAIL", parse_detail, DEFAULT_DETAIL),
        local_api_client_id=env.get("LOCAL_API_CLIENT_ID"),
        local_api_client_secret=env.get("LOCAL_API_CLIENT_SECRET"),
        local_api_workers=get("LOCAL_API_WORKERS", _number(int), 2),
        local_api_allow_private_hosts=get(
            "LOCAL_API_ALLOW_PRIVATE_HOSTS", _private_hosts, frozenset()
        ),
        slack_bot_token=get("SLACK_BOT_TOKEN", _prefixed("xoxb-"), None),
        slack_signing_secret=env.get("SLACK_SIGNING_SECRET"),
        slack_app_token=get("SLACK_APP_TOKEN", _prefixed("xapp-"), None),
        slack_api_url=get("SLACK_API_URL", _slack_api_url, DEFAULT_SLACK_API_URL),
        port=get("PORT", _port, 3000),
        detect_workers=get("DETECT_WORKERS", _number(int), 8),
        detect_queue=get("DETECT_QUEUE", _number(int), 1000),
        detect_user_in_flight=get("DETECT_USER_IN_FLIGHT", _number(int), 30),
        detect_team_in_flight=get("DETECT_TEAM_IN_FLIGHT", _number(int), 40),
        detect_user_rate=get("DETECT_USER_RATE", _rate, "120/minute"),
        detect_team_rate=get("DETECT_TEAM_RATE", _rate, "300/minute"),
        max_image_bytes=get("MAX_IMAGE_BYTES", _number(int), 10_000_000),
        allowed_channels=get("ALLOWED_CHANNELS", _channel_set, frozenset()),
        auto_detect=get("AUTO_DETECT", parse_bool, True),
        annotate=get("ANNOTATE", parse_bool, True),
        shutdown_grace=get("SHUTDOWN_GRACE", _number(float, allow_zero=True), 25.0),
        log_level=get("LOG_LEVEL", _log_level, "INFO"),
        redis_url=redis_url,
        worker_dead_after=get("WORKER_DEAD_AFTER", _number(float), 15.0),
        slack_client_id=slack_client_id,
        slack_client_secret=env.get("SLACK_CLIENT_SECRET"),
        slack_redirect_uri=get("SLACK_REDIRECT_URI", _http_url, None),
        slack_token_rotation=rotation,
        database_url=database_url,
        placeholders=placeholders,
    )


def parse_verify(raw: str) -> str:
    value = raw.upper()
    if value not in VERIFY_MODES:
        raise ValueError(f"must be one of {', '.join(VERIFY_MODES)}, not {raw!r}")
    return value


def parse_detail(raw: str) -> str:
    value = raw.lower()
    if value not in DETAILS:
        raise ValueError(f"must be one of {', '.join(DETAILS)}, not {raw!r}")
    return value


def parse_bool(raw: str) -> bool:
    value = raw.lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"must be true or false, not {raw!r}")


def _number(kind: Callable[[str], N], *, allow_zero: bool = False) -> Callable[[str], N]:
    def parse(raw: str) -> N:
        try:
            value = kind(raw)
        except ValueError:
            raise ValueError(f"must be a number, not {raw!r}") from None
        if value < 0 or (value == 0 and not allow_zero):
            least = "0 or more" if allow_zero else "greater than 0"
            raise ValueError(f"must be {least}, not {raw!r}")
        return value

    return parse


def _rate(raw: str) -> str:
    """A rate in the `limits` notation ("120/minute", "10 per 5 minutes") of at least one."""
    try:
        amount = limits.parse(raw).amount
    except ValueError:
        amount = 0
    if amount < 1:
        raise ValueError(
            f"must be a number of images per second, minute, hour or day, such as 120/minute, not {raw!r}"
        )
    return raw


def _port(raw: str) -> int:
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ValueError(f"must be a port number from 1 to 65535, not {raw!r}")
    return int(raw)


def _http_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"must be an http(s) URL, not {raw!r}")
    return raw.rstrip("/")


def _slack_api_url(raw: str) -> str:
    return _http_url(raw) + "/"


def _database_url(raw: str) -> str:
    """The URL as SQLAlchemy takes it: PaaS add-ons give postgres://, which it does not know, and
    its own postgresql:// means the psycopg2 driver, not the psycopg 3 the bot ships."""
    scheme, sep, rest = raw.partition("://")
    if not sep or not rest:
        raise ValueError("must be a postgres://, postgresql:// or sqlite:/// URL")
    if scheme in ("postgres", "postgresql", "postgresql+psycopg"):
        return f"postgresql+psycopg://{rest}"
    if scheme == "sqlite" and rest.startswith("/") and len(rest) > 1:
        return raw
    # Never echo the value: it may carry the password.
    raise ValueError("must be a postgres://, postgresql:// or sqlite:/// URL (with a file path)")


def _check_known(classes: tuple[str, ...]) -> None:
    """DETECT_CLASSES with the embedded detector: a class it cannot see would never be found."""
    strange = unknown(classes)
    if len(strange) == 1:
        raise ConfigError(
            f"DETECT_CLASSES: {strange[0]} is not a class the embedded detector knows "
            "(the README lists them; `all` means every one)"
        )
    if strange:
        raise ConfigError(
            f"DETECT_CLASSES: {', '.join(strange)} are not classes the embedded detector knows "
            "(the README lists them; `all` means every one)"
        )


def _check_sqlite(url: str, *, paas: bool) -> None:
    """A SQLite file is kept on this machine's disk: refused on a PaaS, whose disk each deploy
    replaces, and when its folder does not exist (SQLite's own error names no file)."""
    if paas:
        raise ConfigError(
            "DATABASE_URL: a SQLite file on a PaaS is lost at every deploy and restart (its disk is "
            "not kept), and every workspace's installation with it; use a PostgreSQL database's "
            "postgres:// URL (Heroku: heroku addons:create heroku-postgresql; Render: the "
            "Blueprint's database)"
        )
    # sqlite:///relative/path or sqlite:////absolute/path, perhaps with ?options
    path = url.removeprefix("sqlite:///").split("?", 1)[0]
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        raise ConfigError(
            f"DATABASE_URL: the folder {folder} does not exist; create it, or give a SQLite file "
            "in a folder that does (sqlite:////absolute/path/bot.db or sqlite:///relative/bot.db)"
        )


def _redis_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        # Never echo the value: it may carry the password.
        raise ValueError("must be a redis:// or rediss:// URL with a host")
    return raw


def _unverified(url: str) -> str:
    """REDIS_TLS_VERIFY=false: a rediss:// URL whose server certificate redis-py does not check
    (Heroku's Key-Value Store signs its own); the connection stays encrypted."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if parts.scheme != "rediss" or any(name == "ssl_cert_reqs" for name, _ in query):
        return url
    return parts._replace(query=urlencode([*query, ("ssl_cert_reqs", "none")])).geturl()


def _prefixed(prefix: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if not raw.startswith(prefix):
            # Never echo the value: it is a secret, perhaps pasted into the wrong variable.
            raise ValueError(f"must start with {prefix!r}")
        return raw

    return parse


def _private_hosts(raw: str) -> frozenset[str]:
    return private_hosts(host for host in raw.split(",") if host.strip())


def _channel_set(raw: str) -> frozenset[str]:
    return frozenset(c.strip() for c in raw.split(",") if c.strip())


def _log_level(raw: str) -> str:
    value = raw.upper()
    if value not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError(f"must be DEBUG, INFO, WARNING or ERROR, not {raw!r}")
    return value
