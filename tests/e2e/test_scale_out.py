"""Web and worker processes on one Redis, end to end, with real faults.

Two `python -m bot run --http` and two `python -m bot worker` processes share a throwaway
redis-server; Slack is the emulator and the API the fault server (a hosted account), so a test can
hold detect jobs IN_PROGRESS while it kills a worker (SIGKILL), stops one (SIGTERM) or stops Redis.
Every upload must get exactly one reply, with its results. WORKER_DEAD_AFTER is 2 s here, so a dead
worker's jobs come back within seconds.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from bot.slack.pacing import RedisHolds
from tests.support.cluster import Cluster
from tests.support.faultserver import FaultyApi, faulty_api
from tests.support.redisserver import RedisServer
from tests.support.slack_emulator import SlackEmulator
from tests.support.slack_signing import (
    block_actions_payload,
    interactive_body,
    slash_command_body,
)
from tests.support.slackbot import (
    CHANNEL,
    REPLY_TIMEOUT,
    SIGNING_SECRET,
    USER,
    hosted,
    shared_photo,
    wait_for_reactions,
    wait_for_reply,
)
from tests.support.waiting import until

ANSWER_WITHIN = 60.0  # the promise for a job whose worker died
RESULTS = re.compile(r"^chelsea-\d+\.png: cat \d+%")


@pytest.fixture(scope="module")
def slack() -> Iterator[SlackEmulator]:
    with SlackEmulator() as emulator:
        yield emulator


@pytest.fixture(scope="module")
def api() -> Iterator[FaultyApi]:
    with faulty_api() as faulty:
        yield faulty


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory,
    slack: SlackEmulator,
    api: FaultyApi,
    redis_process: RedisServer,
) -> Iterator[Cluster]:
    redis_process.flush()
    env = {
        **hosted(api),
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "REDIS_URL": redis_process.url,
        "DETECT_WORKERS": "2",
        "DETECT_TIMEOUT": "30",
        "WORKER_DEAD_AFTER": "2",
        "SHUTDOWN_GRACE": "3",
        "ANNOTATE": "false",
    }
    cluster = Cluster(tmp_path_factory.mktemp("cluster"), env)
    try:
        starting = [
            threading.Thread(target=start, args=(name,))
            for start, name in (
                (cluster.start_web, "web-1"),
                (cluster.start_web, "web-2"),
                (cluster.start_worker, "worker-1"),
                (cluster.start_worker, "worker-2"),
            )
        ]
        for thread in starting:
            thread.start()
        for thread in starting:
            thread.join()
        assert len(cluster.processes) == 4, "a process did not start"
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def workers(cluster: Cluster, api: FaultyApi) -> Iterator[Cluster]:
    """The cluster with both workers running, and jobs finishing at once, after the test too."""
    api.hold_jobs(0)
    yield cluster
    api.hold_jobs(0)
    for name in ("worker-1", "worker-2"):
        if name not in cluster.processes:
            cluster.start_worker(name)


# -- helpers ------------------------------------------------------------------------------------

_uploads = iter(range(1_000_000))


def upload(slack: SlackEmulator) -> tuple[dict[str, Any], dict[str, Any]]:
    """A new message sharing the cat photo: (the message, its Events API envelope)."""
    return shared_photo(slack, filename=f"chelsea-{next(_uploads)}.png")


def polled(api: FaultyApi, times: int) -> None:
    """Wait until the API has been asked `times` times in all how a job is doing."""
    api.wait_for("GET /detect/{id}", times, timeout=REPLY_TIMEOUT)


def done(slack: SlackEmulator, ts: str, timeout: float = REPLY_TIMEOUT) -> None:
    """Wait for the last step of the upload's job: the check mark on the shared message."""
    wait_for_reactions(slack, ts, ["white_check_mark"], timeout)


def answered_everything(cluster: Cluster, slack: SlackEmulator) -> None:
    """Wait until an upload sent now is done: the work queued before it is done too."""
    message, envelope = upload(slack)
    assert cluster.post("web-1", envelope).status_code == 200
    done(slack, message["ts"])


# -- tests --------------------------------------------------------------------------------------


def test_one_delivery_sent_to_both_web_processes_is_answered_once(
    workers: Cluster, slack: SlackEmulator
):
    message, envelope = upload(slack)

    first = workers.post("web-1", envelope)
    # Slack gave up waiting and retries; its retry reaches the other web process.
    retry = workers.post("web-2", envelope, retry_num=1, retry_reason="http_timeout")
    assert (first.status_code, retry.status_code) == (200, 200)

    assert RESULTS.match(wait_for_reply(slack, message["ts"], status=200).args["text"])
    answered_everything(workers, slack)
    assert len(slack.replies(message["ts"], status=200)) == 1
    assert slack.reactions(CHANNEL, message["ts"]) == ["white_check_mark"]


def test_a_worker_killed_mid_job_leaves_it_to_the_other_which_answers_with_results(
    workers: Cluster, slack: SlackEmulator, api: FaultyApi
):
    workers.kill("worker-2")
    api.hold_jobs()  # the job stays IN_PROGRESS: worker-1 keeps polling it
    message, envelope = upload(slack)
    polls = api.count("GET /detect/{id}")
    assert workers.post("web-1", envelope).status_code == 200
    polled(api, polls + 2)
    # The next poll hangs: worker-1 is in the middle of the job's run when it is killed.
    api.delay("GET /detect/{id}", 30, after=api.count("GET /detect/{id}"))
    polled(api, polls + 3)

    workers.kill("worker-1")
    killed = time.monotonic()
    workers.start_worker("worker-2")
    api.hold_jobs(0)

    reply = wait_for_reply(slack, message["ts"], status=200, timeout=ANSWER_WITHIN)
    # Taken back once worker-1's heartbeat was 2 s old (WORKER_DEAD_AFTER), not before.
    assert 2.0 <= time.monotonic() - killed < ANSWER_WITHIN
    assert RESULTS.match(reply.args["text"])
    answered_everything(workers, slack)
    assert slack.replies(message["ts"], status=200) == [reply]
    assert slack.reactions(CHANNEL, message["ts"]) == ["white_check_mark"]
    assert api.count("POST /detect") == len(api.bodies("POST /detect"))


def test_a_job_killed_after_its_reply_was_posted_is_not_answered_twice(
    workers: Cluster, slack: SlackEmulator
):
    workers.kill("worker-2")
    # The job's last step, the check mark, hangs: the reply is posted, the message not yet
    # acknowledged, and that call never reaches Slack.
    hanging = slack.slow_next("reactions.add", 30, reaches_slack=False)
    message, envelope = upload(slack)
    assert workers.post("web-1", envelope).status_code == 200
    reply = wait_for_reply(slack, message["ts"], status=200)
    assert hanging.wait(REPLY_TIMEOUT)

    workers.kill("worker-1")
    killed = time.monotonic()
    workers.start_worker("worker-2")

    # The other worker runs the job again: it marks the message and posts nothing more.
    done(slack, message["ts"], timeout=ANSWER_WITHIN)
    assert time.monotonic() - killed >= 2.0  # it was worker-1's job, taken back when it died
    answered_everything(workers, slack)
    assert slack.replies(message["ts"], status=200) == [reply]


def test_a_worker_killed_while_posting_its_reply_leaves_the_reply_to_the_other(
    workers: Cluster, slack: SlackEmulator
):
    workers.kill("worker-2")
    # The reply is on its way when worker-1 dies, and never reaches Slack.
    posting = slack.slow_next("chat.postMessage", 30, reaches_slack=False)
    message, envelope = upload(slack)
    assert workers.post("web-1", envelope).status_code == 200
    assert posting.wait(REPLY_TIMEOUT)

    workers.kill("worker-1")  # it had started the reply step, and never finished it
    killed = time.monotonic()
    workers.start_worker("worker-2")

    reply = wait_for_reply(slack, message["ts"], status=200, timeout=ANSWER_WITHIN)
    assert RESULTS.match(reply.args["text"])
    # Left to worker-1 while it might be alive (WORKER_DEAD_AFTER), then taken from the job's
    # own records: no history read, no answer twice.
    assert time.monotonic() - killed >= 2.0
    done(slack, message["ts"])
    answered_everything(workers, slack)
    assert slack.replies(message["ts"], status=200) == [reply]
    assert not [c for c in slack.calls if c.method.startswith("conversations.")]


def test_a_retry_after_one_worker_met_is_honoured_by_the_other_which_posts_the_reply_once(
    workers: Cluster, slack: SlackEmulator, redis_process: RedisServer
):
    refusals = RedisHolds(redis_process.client())
    before = refusals.counts().get("chat.postMessage", 0)
    workers.kill("worker-2")
    slack.fail_next("chat.postMessage", 429, retry_after=5)
    message, envelope = upload(slack)
    assert workers.post("web-1", envelope).status_code == 200
    # Seen once the Retry-After is kept in Redis (the count of 429s follows it).
    assert until(lambda: refusals.counts().get("chat.postMessage", 0) > before, REPLY_TIMEOUT)
    limited_at = time.monotonic()

    # The job waits for its turn as a delayed message, on no worker: worker-1 may go. The other
    # runs it, and a later upload in the channel, and waits out what worker-1 was told for both.
    workers.kill("worker-1")
    workers.start_worker("worker-2")
    later, envelope = upload(slack)
    assert workers.post("web-1", envelope).status_code == 200
    reply = wait_for_reply(slack, message["ts"], status=200, timeout=ANSWER_WITHIN)
    later_reply = wait_for_reply(slack, later["ts"], status=200, timeout=ANSWER_WITHIN)
    assert min(reply.at, later_reply.at) - limited_at >= 4.5
    assert RESULTS.match(reply.args["text"]) and RESULTS.match(later_reply.args["text"])
    done(slack, message["ts"])
    answered_everything(workers, slack)
    assert slack.replies(message["ts"], status=200) == [reply]
    assert [c.status for c in slack.replies(message["ts"])] == [429, 200]
    assert [c.status for c in slack.replies(later["ts"])] == [200]


def test_with_redis_down_the_web_answers_503_then_recovers_by_itself(
    workers: Cluster, slack: SlackEmulator, redis_process: RedisServer
):
    base = workers.processes["web-1"].url
    message, envelope = upload(slack)
    redis_process.stop()
    try:
        started = time.monotonic()
        refused = workers.post("web-1", envelope)
        took = time.monotonic() - started
        again = workers.post("web-1", envelope, retry_num=1, retry_reason="http_error")
        health = requests.get(f"{base}/healthz", timeout=10)
    finally:
        redis_process.start()

    assert refused.status_code == 503 and took < 5.0
    assert again.status_code == 503
    assert (health.status_code, health.text) == (503, "redis: unreachable\n")
    logged = workers.processes["web-1"].logged()
    assert logged.count("cannot reach Redis") == 1, logged
    assert "Traceback" not in logged

    # Slack delivers the event once more, later: now it is taken and answered, once.
    redelivered = workers.post("web-1", envelope, retry_num=2, retry_reason="http_error")
    assert redelivered.status_code == 200
    assert RESULTS.match(wait_for_reply(slack, message["ts"], status=200).args["text"])
    assert requests.get(f"{base}/healthz", timeout=10).text == "ok\n"
    assert "reachable again" in workers.processes["web-1"].logged()
    answered_everything(workers, slack)
    assert len(slack.replies(message["ts"], status=200)) == 1


def test_sigterm_on_a_worker_finishes_or_leaves_its_jobs_each_answered_once(
    workers: Cluster, slack: SlackEmulator, api: FaultyApi
):
    workers.kill("worker-2")
    api.hold_jobs()
    waiting = [upload(slack) for _ in range(4)]
    polls = api.count("GET /detect/{id}")
    for _, envelope in waiting:
        assert workers.post("web-1", envelope).status_code == 200
    polled(api, polls + 8)
    # One more job, in the middle of a run at SIGTERM: the API takes a second to take its images.
    detects = api.count("POST /detect")
    api.delay("POST /detect", 1, after=detects)
    running = upload(slack)
    assert workers.post("web-1", running[1]).status_code == 200
    api.wait_for("POST /detect", detects + 1, timeout=REPLY_TIMEOUT)
    workers.start_worker("worker-2")

    started = time.monotonic()
    code, logged = workers.terminate("worker-1")
    took = time.monotonic() - started
    api.hold_jobs(0)

    assert code == 0, logged
    assert took < 3 + 2, f"SHUTDOWN_GRACE is 3 s; stopping took {took:.1f} s"
    assert "Traceback" not in logged
    for message, _ in [*waiting, running]:
        assert RESULTS.match(wait_for_reply(slack, message["ts"], status=200).args["text"])
    answered_everything(workers, slack)
    for message, _ in [*waiting, running]:
        assert len(slack.replies(message["ts"], status=200)) == 1
        assert slack.reactions(CHANNEL, message["ts"]) == ["white_check_mark"]


# -- the embedded API on Redis ------------------------------------------------------------------


@pytest.fixture(scope="module")
def embedded(
    tmp_path_factory: pytest.TempPathFactory, slack: SlackEmulator, redis_process: RedisServer
) -> Iterator[Cluster]:
    """A web process and (started by the test) workers, each with the embedded API in-process;
    on a Redis database of their own, apart from the other cluster's workers."""
    env = {
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "REDIS_URL": redis_process.database(1),
        "DETECT_WORKERS": "2",
        "WORKER_DEAD_AFTER": "2",
        "ANNOTATE": "false",
    }
    cluster = Cluster(tmp_path_factory.mktemp("embedded"), env)
    try:
        cluster.start_web("web")
        yield cluster
    finally:
        cluster.stop()


def test_a_job_is_shown_and_reported_by_another_worker_than_the_one_that_ran_it(
    embedded: Cluster, slack: SlackEmulator
):
    embedded.start_worker("worker-a")
    message, envelope = upload(slack)
    assert embedded.post("web", envelope).status_code == 200
    wait_for_reply(slack, message["ts"], status=200)
    (answer,) = [c.response["message"] for c in slack.replies(message["ts"], status=200)]
    job_id = answer["blocks"][-1]["elements"][0]["text"].split("`")[1]
    embedded.terminate("worker-a")  # its embedded API, and the job's results, live on in Redis
    embedded.start_worker("worker-b")
    ephemerals = len(slack.calls_to("chat.postEphemeral"))

    shown = embedded.send(
        "web",
        slash_command_body(f"job {job_id}", channel=CHANNEL, user=USER),
        "application/x-www-form-urlencoded",
    )
    assert shown.status_code == 200
    (results,) = slack.wait_for("chat.postEphemeral", ephemerals + 1)[ephemerals:]
    assert re.search(r"^Image 1: cat \d+%", results.args["text"])

    menu = answer["blocks"][0]["accessory"]
    chosen = next(o for o in menu["options"] if o["text"]["text"] == "cat is not there")
    action = {
        "type": menu["type"],
        "action_id": menu["action_id"],
        "block_id": "Yx3kQ",
        "action_ts": "1700000000.123456",
        "selected_option": chosen,
    }
    payload = block_actions_payload([action], channel=CHANNEL, user=USER, message=answer)
    clicked = embedded.send("web", interactive_body(payload), "application/x-www-form-urlencoded")
    assert clicked.status_code == 200
    (thanks,) = slack.wait_for("chat.postEphemeral", ephemerals + 2)[ephemerals + 1 :]
    assert thanks.args["text"].startswith("Thanks! Reported that *cat* is not in that image.")
    embedded.terminate("worker-b")
