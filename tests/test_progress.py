"""Progress: what a job records of the steps it took, in memory and in a real Redis, and `once`,
which takes a step with an outside effect once however many runs of the job try."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from bot.jobs.base import RECHECK_TAKING, Later, Progress, once
from bot.jobs.progress import MemoryProgressStore, RedisProgressStore
from tests.redisserver import RedisServer


@pytest.fixture(params=["memory", "redis"])
def progress(request: pytest.FixtureRequest) -> Iterator[Progress]:
    if request.param == "memory":
        yield MemoryProgressStore().of("job-1")
        return
    server: RedisServer = request.getfixturevalue("redis")
    with server.client() as client:
        yield RedisProgressStore(client, prefix="test").of("job-1")


def test_a_step_is_claimed_by_one_caller_and_replaced_only_from_what_it_holds(progress: Progress):
    assert progress.get("reply") is None
    assert progress.claim("reply", "mine")
    assert not progress.claim("reply", "theirs")
    assert progress.get("reply") == "mine"
    assert not progress.replace("reply", "theirs", "x")
    assert progress.replace("reply", "mine", "1700000000.000100")
    progress.release("reply", "mine")  # no longer what it holds: kept
    assert progress.get("reply") == "1700000000.000100"
    progress.release("reply", "1700000000.000100")
    assert progress.get("reply") is None
    progress.set("plan", "")
    assert progress.get("plan") == ""


def test_redis_progress_lasts_a_day_and_jobs_do_not_share_it(redis: RedisServer):
    with redis.client() as client:
        store = RedisProgressStore(client, prefix="test")
        store.of("job-1").claim("reply", "1.0")
        assert store.of("job-2").get("reply") is None
        assert 86_000 < client.ttl("test:progress:job-1") <= 86_400


class Effects:
    """An outside effect with a record of how often it happened."""

    def __init__(self, result: str = "1.000100") -> None:
        self.result = result
        self.done = 0

    def act(self) -> str:
        self.done += 1
        return self.result


def nothing_found() -> str | None:
    return None


def test_once_takes_the_step_once_and_hands_later_runs_its_record(progress: Progress):
    effect = Effects()
    assert once(progress, "reply", effect.act, nothing_found, dead_after=15) == "1.000100"
    assert once(progress, "reply", effect.act, nothing_found, dead_after=15) == "1.000100"
    assert effect.done == 1


def test_a_step_whose_effect_failed_is_free_for_the_next_try(progress: Progress):
    def fail() -> str:
        raise ConnectionResetError("Slack hung up")

    with pytest.raises(ConnectionResetError):
        once(progress, "reply", fail, nothing_found, dead_after=15)
    effect = Effects()
    assert once(progress, "reply", effect.act, nothing_found, dead_after=15) == "1.000100"
    assert effect.done == 1


def taken(progress: Progress, seconds_ago: float) -> None:
    assert progress.claim("reply", f"taking:{time.time() - seconds_ago}:another-run")


@pytest.mark.parametrize(
    ("seconds_ago", "low", "high"),
    [(5, RECHECK_TAKING, RECHECK_TAKING), (14.6, 0.2, 0.4)],  # soon; or when it counts as dead
)
def test_a_step_another_run_is_taking_is_left_to_it_while_it_may_be_alive(
    progress: Progress, seconds_ago: float, low: float, high: float
):
    taken(progress, seconds_ago=seconds_ago)
    effect = Effects()
    with pytest.raises(Later) as later:
        once(progress, "reply", effect.act, nothing_found, dead_after=15)
    assert low <= later.value.delay <= high
    assert effect.done == 0


@pytest.mark.parametrize(
    ("found", "done", "recorded"), [("1.000200", 0, "1.000200"), (None, 1, "1.000100")]
)
def test_a_step_a_dead_run_was_taking_is_found_or_taken_again(
    progress: Progress, found: str | None, done: int, recorded: str
):
    taken(progress, seconds_ago=20)
    effect = Effects()
    find: Callable[[], str | None] = lambda: found  # noqa: E731
    assert once(progress, "reply", effect.act, find, dead_after=15) == recorded
    assert effect.done == done
    assert progress.get("reply") == recorded
