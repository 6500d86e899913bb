"""Fair shares: each person's and workspace's images in flight and rate, kept in memory and on a
real redis-server. In Redis mode the admission that counts submissions and the one that gives back
finished jobs are two objects with two connections, as in a web and a worker process: they share
only Redis. The slots' leases run on an injected clock."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from bot.blocks.errors import IN_FLIGHT, RATE, TEAM, USER, Refusal
from bot.config import Settings
from bot.jobs.detect import DetectImages
from bot.jobs.notice import Notice
from bot.queue.admission import Admission, admission_for
from tests.support.redisserver import RedisServer

_ids = itertools.count()


def detection(user: str | None = "U1", *, team: str = "T1", files: int = 1) -> DetectImages:
    return DetectImages(
        team_id=team,
        channel="C1",
        user=user,
        id=f"job-{next(_ids)}",
        classes=("cat",),
        files=tuple({"id": f"F{n}"} for n in range(files)),
    )


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


Shares = Callable[..., tuple[Admission, Admission]]


@pytest.fixture(params=["memory", "redis"])
def shares(request: pytest.FixtureRequest) -> Iterator[Shares]:
    """Makes (the admission that counts submissions, the one that gives back ended jobs) for
    Settings(**fields): one object in memory, two on Redis."""
    clients: list[redis.Redis] = []

    def make(clock: Callable[[], float] = time.time, **fields: Any) -> tuple[Admission, Admission]:
        if request.param == "memory":
            one = admission_for(Settings(**fields), clock=clock)
            return one, one
        server: RedisServer = request.getfixturevalue("redis")
        settings = Settings(redis_url=server.url, **fields)
        web, worker = server.client(), server.client()
        clients.extend((web, worker))
        return admission_for(settings, web, clock=clock), admission_for(
            settings, worker, clock=clock
        )

    yield make
    for client in clients:
        client.close()


def test_a_persons_images_in_flight_are_capped_and_given_back_when_a_job_ends(shares: Shares):
    web, worker = shares(detect_user_in_flight=3)
    two, one, more = detection(files=2), detection(), detection()

    assert web.admit(two) is None and web.admit(one) is None
    assert web.admit(more) == Refusal(IN_FLIGHT, USER, 3)
    assert web.admit(detection("U2")) is None  # someone else in the workspace
    worker.release(two)
    assert web.admit(more) is None


def test_a_workspace_is_capped_across_its_people_and_another_workspace_is_not(shares: Shares):
    web, _ = shares(detect_user_in_flight=3, detect_team_in_flight=4)

    assert web.admit(detection("U1", files=3)) is None
    assert web.admit(detection("U2")) is None
    assert web.admit(detection("U3")) == Refusal(IN_FLIGHT, TEAM, 4)
    assert web.admit(detection(None)) == Refusal(IN_FLIGHT, TEAM, 4)  # counted as the workspace's
    assert web.admit(detection("U1", team="T2", files=3)) is None


def test_a_request_larger_than_a_share_runs_alone(shares: Shares):
    web, worker = shares(detect_user_in_flight=3)
    small, big = detection(), detection(files=10)

    assert web.admit(small) is None
    assert web.admit(big) == Refusal(IN_FLIGHT, USER, 3)
    worker.release(small)
    assert web.admit(big) is None
    assert web.admit(detection()) == Refusal(IN_FLIGHT, USER, 3)


def test_a_job_taken_again_is_counted_once(shares: Shares):
    # With Redis, Slack's retry of a delivery that could not be queued is the same job.
    web, worker = shares(detect_user_in_flight=1)
    job = detection()
    assert web.admit(job) is None and web.admit(job) is None
    assert web.admit(detection()) == Refusal(IN_FLIGHT, USER, 1)
    worker.release(job)
    assert web.admit(detection()) is None


def test_a_job_lost_in_a_crash_holds_its_slots_until_its_lease_ends(shares: Shares):
    clock = Clock()
    web, _ = shares(clock, detect_user_in_flight=1, detect_timeout=60.0)
    assert web.admit(detection()) is None  # and its end never comes

    later = detection()
    assert web.admit(later) == Refusal(IN_FLIGHT, USER, 1)
    clock.now += 60 + 119  # DETECT_TIMEOUT and two minutes: the job might still be running
    assert web.admit(later) == Refusal(IN_FLIGHT, USER, 1)
    clock.now += 2
    assert web.admit(later) is None


def test_past_a_rate_a_request_is_refused_with_when_to_try_again_and_holds_nothing(
    shares: Shares,
):
    web, _ = shares(detect_user_rate="3/minute", detect_team_rate="4/minute")
    for _ in range(3):
        assert web.admit(detection("U1")) is None

    refused = web.admit(detection("U1"))
    assert refused is not None and (refused.reason, refused.scope) == (RATE, USER)
    assert (refused.limit, refused.period) == (3, 60) and 55 <= refused.retry_after <= 60
    assert web.admit(detection("U2")) is None  # the refused request spent none of the workspace's
    refused = web.admit(detection("U2"))
    assert refused is not None and (refused.reason, refused.scope, refused.limit) == (RATE, TEAM, 4)


def test_a_request_refused_for_its_rate_gives_back_its_slots(shares: Shares):
    web, _ = shares(detect_user_rate="1/minute", detect_team_in_flight=2)
    assert web.admit(detection("U1")) is None
    refused = web.admit(detection("U1"))
    assert refused is not None and refused.reason == RATE
    assert web.admit(detection("U2")) is None  # the second of the workspace's two slots


def test_only_detections_are_counted(shares: Shares):
    web, worker = shares(detect_user_in_flight=1)
    assert web.admit(detection()) is None
    notices = [Notice(team_id="T1", channel="C1", user="U1", notice="no_images") for _ in range(5)]
    assert [web.admit(notice) for notice in notices] == [None] * 5
    worker.release(notices[0])


def test_a_person_is_told_of_refusals_once_a_minute(shares: Shares):
    web, _ = shares()
    assert web.tell(detection("U1"))
    assert not web.tell(detection("U1"))
    assert web.tell(detection("U2"))
    assert web.tell(detection("U1", team="T2"))


def test_the_default_shares_take_a_photo_a_second_from_one_person_answered_within_20_s():
    # Issue 15's target: a workspace (one person, here) sharing 60 photos a minute, each answered
    # within 20 s at most; the default shares must turn none of them away.
    web = admission_for(Settings())
    jobs = [detection("U1") for _ in range(60)]
    for second, job in enumerate(jobs):
        if second >= 20:
            web.release(jobs[second - 20])
        assert web.admit(job) is None, f"photo {second} refused"
