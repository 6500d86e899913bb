"""The embedded API: started once for the session by the tests that talk to it directly, or
built with chosen options by a test (`make_api`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bot.httpserver import ServerThread
from bot.localapi.service import (
    RunningLocalApi,
    create_app,
    generate_credentials,
    start_local_api,
)
from tests.support.localapi_client import Api


@pytest.fixture(scope="session")
def local_api() -> Iterator[RunningLocalApi]:
    """The embedded API with the real detector, on a free loopback port, for the whole session."""
    with start_local_api() as api:
        yield api


@pytest.fixture
def make_api() -> Iterator[Callable[..., Api]]:
    """An embedded API built with create_app(**options), served until the test ends."""
    running: list[tuple[ServerThread, Any]] = []

    def make(**options: Any) -> Api:
        client_id, client_secret = generate_credentials()
        app = create_app(client_id, client_secret, **options)
        server = ServerThread(app).start()
        running.append((server, app))
        return Api(f"{server.url}/v2", client_id, client_secret)

    yield make
    for server, app in running:
        server.stop()
        app.close()
