"""The embedded API, started once for the session by the tests that talk to it directly."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.localapi.service import RunningLocalApi, start_local_api


@pytest.fixture(scope="session")
def local_api() -> Iterator[RunningLocalApi]:
    """The embedded API with the real detector, on a free loopback port, for the whole session."""
    with start_local_api() as api:
        yield api
