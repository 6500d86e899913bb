"""The journal: what a job records of the steps it took, in memory and in a real Redis, and
`take_once`, which takes a step with an outside effect once however many runs of the job try."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.jobs.steps import (
    ENDED,
    RECHECK_TAKING,
    Journal,
    MemoryJournals,
    RedisJournals,
    RunAgain,
    State,
    Step,
    done,
    take_once,
)
from tests.support.redisserver import RedisServer

NOW = 1_700_000_000.0


@pytest.fixture(params=["memory", "redis"])
def journal(request: pytest.FixtureRequest) -> Iterator[Journal]:
    if request.param == "memory":
        yield MemoryJournals().of("T1", "job-1")
        return
    server: RedisServer = request.getfixturevalue("redis")
    with server.client() as client:
        yield RedisJournals(client, prefix="test").of("T1", "job-1")


def test_a_step_is_claimed_by_one_caller_and_replaced_only_from_what_it_holds(journal: Journal):
    mine = Step(State.TAKING, run="mine", since=NOW)
    theirs = Step(State.TAKING, run="theirs", since=NOW)
    assert journal.get("answer") is None
    assert journal.claim("answer", mine)
    assert not journal.claim("answer", theirs)
    assert journal.get("answer") == mine
    assert not journal.replace("answer", theirs, done("x"))
    assert journal.replace("answer", mine, done("1700000000.000100"))
    journal.release("answer", mine)  # no longer what it holds: kept
    assert journal.get("answer") == done("1700000000.000100")
    journal.release("answer", done("1700000000.000100"))
    assert journal.get("answer") is None
    journal.set("plan", done([{"name": "cat.png", "url": "https://e.example/cat.png"}]))
    assert journal.get("plan") == done([{"name": "cat.png", "url": "https://e.example/cat.png"}])
    journal.set("answer", ENDED)
    assert journal.get("answer") == ENDED


def test_steps_are_written_as_one_json_object_each():
    for step in (
        done(),
        done({"id": "j1", "at": NOW}),
        ENDED,
        Step(State.TAKING, run="r", since=NOW),
    ):
        assert Step.decode(step.encode()) == step
    assert Step(State.TAKING, run="r", since=NOW).encode() == (
        '{"state":"taking","run":"r","since":1700000000.0}'
    )


def test_a_redis_journal_lasts_a_day_is_kept_under_its_team_and_jobs_do_not_share_it(
    redis: RedisServer,
):
    with redis.client() as client:
        journals = RedisJournals(client, prefix="test")
        journals.of("T1", "job-1").claim("answer", done("1.0"))
        assert journals.of("T1", "job-2").get("answer") is None
        assert journals.of("T2", "job-1").get("answer") is None
        assert 86_000 < client.ttl("test:journal:T1:job-1") <= 86_400


class Effects:
    """An outside effect with a record of how often it happened."""

    def __init__(self, result: str = "1.000100") -> None:
        self.result = result
        self.done = 0

    def act(self) -> str:
        self.done += 1
        return self.result


def test_take_once_takes_the_step_once_and_hands_later_runs_its_record(journal: Journal):
    effect = Effects()
    assert take_once(journal, "answer", effect.act, dead_after=15) == done("1.000100")
    assert take_once(journal, "answer", effect.act, dead_after=15) == done("1.000100")
    assert effect.done == 1


def test_a_step_ended_instead_is_never_taken(journal: Journal):
    journal.set("answer", ENDED)
    effect = Effects()
    assert take_once(journal, "answer", effect.act, dead_after=15) == ENDED
    assert effect.done == 0


def test_a_step_whose_effect_failed_is_free_for_the_next_try(journal: Journal):
    def fail() -> str:
        raise ConnectionResetError("Slack hung up")

    with pytest.raises(ConnectionResetError):
        take_once(journal, "answer", fail, dead_after=15)
    effect = Effects()
    assert take_once(journal, "answer", effect.act, dead_after=15) == done("1.000100")
    assert effect.done == 1


def taken(journal: Journal, seconds_ago: float) -> None:
    assert journal.claim("answer", Step(State.TAKING, run="another-run", since=NOW - seconds_ago))


@pytest.mark.parametrize(
    ("seconds_ago", "delay"),
    [(5, RECHECK_TAKING), (14.7, 0.3)],  # soon; or when it counts as dead
)
def test_a_step_another_run_is_taking_is_left_to_it_while_it_may_be_alive(
    journal: Journal, seconds_ago: float, delay: float
):
    taken(journal, seconds_ago=seconds_ago)
    effect = Effects()
    with pytest.raises(RunAgain) as again:
        take_once(journal, "answer", effect.act, dead_after=15, clock=lambda: NOW)
    assert again.value.delay == pytest.approx(delay)
    assert effect.done == 0


def test_a_step_a_dead_run_was_taking_is_taken_again_once(journal: Journal):
    taken(journal, seconds_ago=20)
    effect = Effects()
    step = take_once(journal, "answer", effect.act, dead_after=15, clock=lambda: NOW)
    again = take_once(journal, "answer", effect.act, dead_after=15, clock=lambda: NOW)
    assert step == again == done("1.000100")
    assert effect.done == 1
    assert journal.get("answer") == done("1.000100")
