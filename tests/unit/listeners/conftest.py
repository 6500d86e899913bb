"""Each listener called directly, as Bolt calls it: with Slack's own payloads, a real `Ack`, and a
`BoltContext` holding what the app's middleware puts there (a real memory queue, real workspaces).
The queue's runner only records the jobs it is given: what a listener submits is its whole effect."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import pytest
from slack_bolt import BoltContext
from slack_bolt.context.ack import Ack

from bot.blocks import Refusal
from bot.config import load_settings
from bot.jobs import Job
from bot.listeners.context import QUEUE, WORKSPACES
from bot.queue.admission import admission_for
from bot.queue.memory import MemoryQueue
from bot.workspaces.serving import serving_workspaces
from tests.support.slack_emulator import BOT_USER_ID, TEAM_ID

SLACK_API_URL = "http://127.0.0.1:9/api/"  # never called: listeners only submit


@dataclass
class Recorded:
    jobs: list[Job] = field(default_factory=list)

    def run(self, job: Job) -> None:
        self.jobs.append(job)

    def interrupt(self, job: Job) -> None:
        raise AssertionError("a listener's job was interrupted")

    def refuse(self, job: Job, refusal: Refusal) -> None:
        raise AssertionError(f"a listener's job was refused: {refusal}")


@dataclass
class Listening:
    """What a listener is called with, and what it submitted."""

    context: BoltContext
    queue: MemoryQueue
    recorded: Recorded

    def submitted(self) -> list[Job]:
        assert self.queue.join(5)
        return self.recorded.jobs


Make = Callable[..., Listening]


@pytest.fixture
def listening() -> Iterator[Make]:
    """`listening(**env)`: a context for a workspace whose environment has `env` too."""
    with ExitStack() as opened:

        def make(**env: str) -> Listening:
            settings = load_settings(
                {
                    "SLACK_BOT_TOKEN": "xoxb-1-listeners-not-real",
                    "SLACK_SIGNING_SECRET": "listeners-not-real",
                    "SLACK_API_URL": SLACK_API_URL,
                    **env,
                },
                dotenv_path=None,
            )
            recorded = Recorded()
            queue = MemoryQueue(recorded, 1, 10, admission_for(settings))
            opened.callback(queue.shutdown, 0)
            context = BoltContext(team_id=TEAM_ID, bot_user_id=BOT_USER_ID)
            context[QUEUE] = queue
            context[WORKSPACES] = opened.enter_context(serving_workspaces(settings))
            return Listening(context, queue, recorded)

        yield make


def acked(ack: Ack) -> dict[str, Any]:
    """What the listener answered Slack with in its ack ({} for a bare ack)."""
    assert ack.response is not None, "the listener did not ack"
    body = ack.response.body
    return json.loads(body) if body else {}
