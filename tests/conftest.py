"""Fixtures shared by unit, end-to-end and contract tests: the servers a session starts once
(PostgreSQL, Redis), and the fakes of outside services each test gets fresh (Slack, the hosted
API)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.localapi.models import MODELS_DIR
from tests.support.faultserver import FaultyApi, faulty_api
from tests.support.postgres import Postgres, postgres_fixture  # noqa: F401 - the session's PostgreSQL
from tests.support.redisserver import RedisServer, redis_server
from tests.support.slack_emulator import SlackEmulator


@pytest.fixture
def model_links(tmp_path: Path) -> Path:
    """A directory of links to the shipped model files, for a test to replace some of them."""
    for model in MODELS_DIR.iterdir():
        (tmp_path / model.name).symlink_to(model)
    return tmp_path


@pytest.fixture
def slack() -> Iterator[SlackEmulator]:
    """Slack's Web API, file hosts and Socket Mode endpoint, emulated on loopback."""
    with SlackEmulator() as emulator:
        yield emulator


@pytest.fixture
def api() -> Iterator[FaultyApi]:
    """The embedded API behind a fault-injecting server: the hosted API, as tests need it."""
    with faulty_api() as faulty:
        yield faulty


@pytest.fixture(scope="session")
def redis_process() -> Iterator[RedisServer]:
    """A throwaway redis-server on a free port for the whole session."""
    with redis_server() as server:
        yield server


@pytest.fixture
def redis(redis_process: RedisServer) -> RedisServer:
    """The session's Redis, emptied for this test."""
    redis_process.flush()
    return redis_process


@pytest.fixture
def database(postgres: Postgres) -> str:
    """A fresh, empty database on the session's throwaway PostgreSQL."""
    return postgres.create_database()
