"""bot.slack.pacing: each method's calls in a workspace within its tier, chat.postMessage per
channel, and Slack's Retry-After kept until it runs out; in this process's memory, and in a real
Redis where two processes share one view. The windows' clock is the `limits` library's (real time):
tests read the delays a turn gives, and never wait for them."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import cast

import pytest
import redis

from bot.slack.pacing import (
    MAX_RETRY_AFTER,
    METHOD_TIERS,
    POST_BURST,
    TIERS,
    TURN_MARGIN,
    Pacer,
    RedisHolds,
)
from tests.support.redisserver import RedisServer

TEAM, OTHER_TEAM = "T111", "T222"
NOW = 1_700_000_000.0


class Clock:
    """The holds' clock: moved by hand."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "redis"])
def pacers(request: pytest.FixtureRequest) -> Iterator[Callable[[Clock], Pacer]]:
    """The pacers of a deployment's processes: the one process's (every thread of it shares one
    pacer), or one per process on a shared Redis (web and workers)."""
    if request.param == "memory":
        made: list[Pacer] = []

        def in_memory(clock: Clock) -> Pacer:
            if not made:
                made.append(Pacer.memory(clock=clock))
            return made[0]

        yield in_memory
        return
    server: RedisServer = request.getfixturevalue("redis")
    clients: list[redis.Redis] = []

    def on_redis(clock: Clock) -> Pacer:
        clients.append(server.client())
        return Pacer.shared(clients[-1], clock=clock)

    yield on_redis
    for client in clients:
        client.close()


def test_a_method_gets_its_tiers_calls_a_minute_in_each_workspace(pacers):
    one, another = pacers(Clock()), pacers(Clock())
    assert METHOD_TIERS["reactions.add"] == 3

    turns = [(one if n % 2 else another).turn(TEAM, "reactions.add") for n in range(TIERS[3])]
    late = one.turn(TEAM, "reactions.add")

    assert turns == [0.0] * 50
    assert 55 < late <= 60 + TURN_MARGIN  # when the window's first call is a minute old
    assert another.turn(TEAM, "reactions.add") == pytest.approx(late, abs=1)
    assert one.turn(OTHER_TEAM, "reactions.add") == 0.0  # each workspace its own budget
    assert one.turn(TEAM, "files.list") == 0.0  # and each method


def test_a_call_may_cost_several_turns_of_its_method(pacers):
    pacer = pacers(Clock())
    assert pacer.turn(TEAM, "files.getUploadURLExternal", cost=64) == 0.0
    assert pacer.turn(TEAM, "files.getUploadURLExternal", cost=36) == 0.0
    assert pacer.turn(TEAM, "files.getUploadURLExternal") > 55


def test_chat_post_message_goes_once_a_second_in_each_channel_with_short_bursts(pacers):
    one, another = pacers(Clock()), pacers(Clock())
    assert POST_BURST == 3

    burst = [(one, another)[n % 2].turn(TEAM, "chat.postMessage", "C1") for n in range(3)]
    again = another.turn(TEAM, "chat.postMessage", "C1")

    assert burst == [0.0] * 3
    assert 2.5 < again <= 3 + TURN_MARGIN  # when the burst's first is 3 s old
    assert one.turn(TEAM, "chat.postMessage", "C2") == 0.0
    assert one.turn(OTHER_TEAM, "chat.postMessage", "C1") == 0.0


def test_a_retry_after_holds_the_call_for_every_process_until_it_runs_out(pacers):
    clock = Clock()
    one, another = pacers(clock), pacers(clock)

    wait, count = one.refused(TEAM, "files.list", None, 7.0)

    assert (wait, count) == (7.0, 1)
    assert another.turn(TEAM, "files.list") == pytest.approx(7.0)
    clock.now += 6.5
    assert another.turn(TEAM, "files.list") == pytest.approx(0.5)
    assert another.turn(OTHER_TEAM, "files.list") == 0.0
    assert another.turn(TEAM, "files.info") == 0.0
    clock.now += 0.5
    assert another.turn(TEAM, "files.list") == 0.0


def test_a_retry_after_on_chat_post_message_holds_its_channel(pacers):
    clock = Clock()
    pacer = pacers(clock)
    pacer.refused(TEAM, "chat.postMessage", "C1", 3.0)

    assert pacer.turn(TEAM, "chat.postMessage", "C1") == pytest.approx(3.0)
    assert pacer.turn(TEAM, "chat.postMessage", "C2") == 0.0


@pytest.mark.parametrize(
    ("retry_after", "wait"),
    [(None, 1.0), (0.0, 1.0), (-5.0, 1.0), (math.nan, 1.0), (86_400.0, MAX_RETRY_AFTER)],
    ids=["missing", "zero", "negative", "nan", "a-day"],
)
def test_a_retry_after_that_makes_no_sense_is_read_within_reason(pacers, retry_after, wait):
    # A day would stop the method in the workspace for a day: capped, like nonsense is replaced.
    clock = Clock()
    pacer = pacers(clock)

    assert pacer.refused(TEAM, "users.info", None, retry_after)[0] == wait
    assert pacer.turn(TEAM, "users.info") == pytest.approx(wait)


def test_429s_are_counted_by_method_for_the_whole_deployment(pacers):
    clock = Clock()
    one, another = pacers(clock), pacers(clock)
    one.refused(TEAM, "reactions.add", None, 1.0)
    another.refused(OTHER_TEAM, "reactions.add", None, 1.0)
    assert another.refused(TEAM, "chat.postMessage", "C1", 1.0) == (1.0, 1)

    assert one.refusals() == {"reactions.add": 2, "chat.postMessage": 1}


def test_the_deployments_429s_are_kept_in_redis_under_the_bots_namespace(redis: RedisServer):
    client = redis.client()
    Pacer.shared(client).refused(TEAM, "files.list", None, 2.0)
    Pacer.shared(client).turn(TEAM, "files.info")

    assert RedisHolds(client).counts() == {"files.list": 1}
    keys = cast(list[bytes], client.keys("*"))
    assert keys and all(key.startswith(b"ii-bot:slack:") for key in keys), keys
    assert 0 < client.ttl("ii-bot:slack:429s") <= 86_400
    client.close()


def test_a_method_without_a_known_limit_is_a_mistake_said_at_once(pacers):
    with pytest.raises(KeyError, match=r"conversations\.history has no rate limit"):
        pacers(Clock()).turn(TEAM, "conversations.history")
