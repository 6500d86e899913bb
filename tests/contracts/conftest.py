"""The contract tests of the Slack emulator and of the signed-request builders share one emulator
per module (not one per test, as elsewhere): they check its behaviour, each in channels and
workspaces of its own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient

from tests.support.slack_emulator import SlackEmulator


@pytest.fixture(scope="module")
def slack() -> Iterator[SlackEmulator]:
    with SlackEmulator() as emulator:
        yield emulator


@pytest.fixture
def client(slack: SlackEmulator) -> WebClient:
    return WebClient(token=slack.bot_token, base_url=slack.api_url)
