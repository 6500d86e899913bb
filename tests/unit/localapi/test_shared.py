"""The embedded API of scaled-out workers: jobs kept in a real Redis, each image a Dramatiq message.

First, embedded APIs in this process, each on a broker of its own as each worker process has, over
real HTTP on one throwaway redis-server: a job made on one is read, searched and reported on another,
and the images of one that stops are run by the others. Then real processes: a web process and
`python -m bot worker` processes with the embedded API in-process, where a worker is SIGKILLed in
the middle of an image.

The in-process tests come first: they empty Redis (the `redis` fixture) and stop it, which the
processes started by the later tests must not live through.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
import redis
import requests

from bot.config import Settings
from bot.httpserver import ServerThread
from bot.localapi.server import LocalApi
from bot.localapi.service import create_app, generate_credentials
from bot.localapi.shared import MAX_DELIVERIES
from bot.localapi.work import LINK_THREADS
from bot.queue.redis import make_broker
from bot.sharedredis import NAMESPACE, connect
from tests.support import apispec
from tests.support.cluster import Cluster
from tests.support.imagehost import upload_beside_stalled_links
from tests.support.localapi_client import (
    Api,
    bearer,
    blob,
    by_class,
    classes,
    search,
    submit,
    wait_for,
)
from tests.support.photos import photo
from tests.support.redisserver import RedisServer
from tests.support.slack_emulator import SlackEmulator
from tests.support.slack_signing import slash_command_body
from tests.support.slackbot import CHANNEL, REPLY_TIMEOUT, SIGNING_SECRET, USER

DEAD_AFTER = 1.0  # WORKER_DEAD_AFTER of the in-process APIs' brokers, seconds


@pytest.fixture
def shared_api(redis: RedisServer) -> Iterator[Callable[..., tuple[Api, LocalApi]]]:
    """Embedded APIs keeping their jobs in the test's Redis; (the API, its app) each."""
    running: list[tuple[ServerThread, LocalApi, Any]] = []

    def make(**options: Any) -> tuple[Api, LocalApi]:
        client = connect(redis.url)
        broker = make_broker(client, Settings(worker_dead_after=DEAD_AFTER))
        client_id, client_secret = generate_credentials()
        app = create_app(client_id, client_secret, broker=broker, **options)
        server = ServerThread(app).start()
        running.append((server, app, client))
        return Api(f"{server.url}/v2", client_id, client_secret), app

    yield make
    for server, app, client in running:
        server.stop()
        app.close()
        client.close()


def test_a_job_made_on_one_process_is_read_searched_and_reported_on_another(
    shared_api: Callable[..., tuple[Api, LocalApi]], redis: RedisServer
) -> None:
    (first, _), (second, _) = shared_api(), shared_api()
    body = {
        "images": [blob(photo("chelsea.png"), "cat")],
        "classes": classes("cat", "dog"),
        "customId": "upload-1",
    }
    on_first = bearer(first)
    job = wait_for(first, submit(first, body, on_first)["id"], on_first)

    on_second = bearer(second)
    again = wait_for(second, job["id"], on_second)
    assert again == job
    assert by_class(again["imageResults"][0])["cat"]["verdict"] is True
    assert [j["id"] for j in search(second, "customId=upload-1", on_second)] == [job["id"]]
    feedback = {
        "jobId": job["id"],
        "createdAt": job["createdAt"],
        "classes": [{"class": "cat", "code": "FALSE_POSITIVE"}],
    }
    answer = requests.post(
        f"{second.base_url}/feedback", json=feedback, headers=on_second, timeout=10
    )
    assert answer.status_code == 200, answer.text
    apispec.validate("FeedbackResponse", answer.json())
    with redis.client() as client:
        # Finished: kept a day; the blob's bytes are gone, and no message is left.
        assert 86_000 < client.ttl(f"{NAMESPACE}:api:job:{job['id']}") <= 86_400
        assert client.keys(f"{NAMESPACE}:api:blob:*") == []
        assert client.llen(f"{NAMESPACE}:images") == 0


def test_the_images_of_a_process_that_stops_are_run_by_the_others(
    shared_api: Callable[..., tuple[Api, LocalApi]],
) -> None:
    stopping, stopping_app = shared_api(workers=1)
    taking_over, _ = shared_api(workers=1)
    names = ["chelsea.png", "coffee.png", "astronaut.png", "grace_hopper.jpg"]
    body = {"images": [blob(photo(n), n) for n in names], "classes": classes("cat", "person")}
    job = submit(stopping, body)
    # A shutdown: the images it had taken go back on the queue, or finish.
    stopping_app.close()
    refused = requests.post(
        f"{stopping.base_url}/detect", json=body, headers=bearer(stopping), timeout=10
    )
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "unavailable"

    headers = bearer(taking_over)
    done = wait_for(taking_over, job["id"], headers)

    assert done["status"] == "COMPLETED_SUCCESSFULLY"
    found = {i["customId"]: by_class(i) for i in done["imageResults"]}
    assert found["chelsea.png"]["cat"]["verdict"] is True
    assert found["astronaut.png"]["person"]["verdict"] is True
    assert found["coffee.png"]["cat"]["verdict"] is False


def test_with_redis_down_the_api_answers_503_and_recovers(
    shared_api: Callable[..., tuple[Api, LocalApi]], redis: RedisServer
) -> None:
    api, _ = shared_api()
    headers = bearer(api)
    body = {"images": [blob(photo("chelsea.png"))], "classes": classes("cat")}
    redis.stop()
    try:
        answers = [
            requests.post(f"{api.base_url}/detect", json=body, headers=headers, timeout=10),
            requests.get(f"{api.base_url}/detect/some-job", headers=headers, timeout=10),
            requests.get(f"{api.base_url}/detect", headers=headers, timeout=10),
        ]
    finally:
        redis.start()
    for answer in answers:
        assert answer.status_code == 503, answer.text
        assert answer.headers["Retry-After"] == "1"
        assert answer.json()["error"] == {
            "code": "unavailable",
            "message": "the job store cannot be reached; try again shortly",
        }
    # Redis is back (empty: the test's keeps nothing): the store answers again.
    assert search(api, "", headers) == []
    assert submit(api, body, headers)["status"] == "IN_PROGRESS"


def test_links_to_a_stalled_server_do_not_delay_an_upload_on_any_worker(
    shared_api: Callable[..., tuple[Api, LocalApi]],
) -> None:
    api, _ = shared_api(workers=1, allowed_private_hosts=["127.0.0.1"])
    upload, took, waiting, links = upload_beside_stalled_links(api)
    assert upload["status"] == "COMPLETED_SUCCESSFULLY"
    assert took < 5  # the links hold the `image-links` queue's threads, not the detector's
    assert waiting == LINK_THREADS
    assert {image["status"] for image in links["imageResults"]} == {"IMAGE_DOWNLOAD_ERROR"}


# -- worker processes ---------------------------------------------------------------------------


class HeldImage:
    """Serves chelsea.png; the first GET is held until `release` is set (its fetcher is killed
    meanwhile)."""

    def __init__(self) -> None:
        self.fetching = threading.Event()
        self.release = threading.Event()
        self.gets = 0
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        with self._lock:
            self.gets += 1
            first = self.gets == 1
        if first:
            self.fetching.set()
            self.release.wait(60)
        body = photo("chelsea.png")
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]


@pytest.fixture(scope="module")
def slack() -> Iterator[SlackEmulator]:
    with SlackEmulator() as emulator:
        yield emulator


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, slack: SlackEmulator, redis_process: RedisServer
) -> Iterator[Cluster]:
    """A web process; the tests start the workers, each with the embedded API in-process."""
    env = {
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "REDIS_URL": redis_process.database(2),
        "DETECT_WORKERS": "2",
        "WORKER_DEAD_AFTER": "2",
        "ANNOTATE": "false",
        "LOCAL_API_ALLOW_PRIVATE_HOSTS": "127.0.0.1",  # the test's image server
    }
    cluster = Cluster(tmp_path_factory.mktemp("images"), env)
    try:
        cluster.start_web("web")
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def held_image() -> Iterator[tuple[HeldImage, str]]:
    host = HeldImage()
    with ServerThread(host) as server:
        yield host, f"{server.url}/chelsea.png"
        host.release.set()


def detect_link_and_kill_its_worker(
    cluster: Cluster, slack: SlackEmulator, host: HeldImage, url: str
) -> int:
    """`/detect <url> cat` on worker-a alone, which is SIGKILLed while fetching the image;
    returns how many messages the bot had posted before."""
    posted = len(slack.calls_to("chat.postMessage"))
    cluster.start_worker("worker-a")
    command = slash_command_body(f"<{url}|chelsea> cat", channel=CHANNEL, user=USER)
    assert cluster.send("web", command, "application/x-www-form-urlencoded").status_code == 200
    assert host.fetching.wait(REPLY_TIMEOUT), "worker-a never fetched the image"
    cluster.kill("worker-a")
    return posted


def test_an_image_whose_worker_was_killed_mid_analysis_is_run_by_another(
    cluster: Cluster, slack: SlackEmulator, held_image: tuple[HeldImage, str]
) -> None:
    host, url = held_image
    posted = detect_link_and_kill_its_worker(cluster, slack, host, url)
    killed = time.monotonic()
    cluster.start_worker("worker-b")

    announcement, reply = slack.wait_for("chat.postMessage", posted + 2, timeout=60)[posted:]
    assert reply.args["thread_ts"] == announcement.response["ts"]
    assert reply.args["text"].startswith(f"{url}: cat ")
    # Put back on the queue once worker-a's heartbeat was 2 s old (WORKER_DEAD_AFTER).
    assert time.monotonic() - killed >= 2.0
    assert host.gets == 2  # fetched again, by worker-b
    code, logged = cluster.terminate("worker-b")
    assert code == 0 and "Traceback" not in logged, logged


def test_an_image_that_keeps_killing_its_workers_is_given_up(
    cluster: Cluster,
    slack: SlackEmulator,
    held_image: tuple[HeldImage, str],
    redis_process: RedisServer,
) -> None:
    host, url = held_image
    posted = detect_link_and_kill_its_worker(cluster, slack, host, url)
    with redis.Redis.from_url(redis_process.database(2)) as client:
        (job,) = [
            key
            for key in client.scan_iter(f"{NAMESPACE}:api:job:*")
            if client.hexists(key, "tries:0") and not client.hexists(key, "image:0")
        ]
        # As if the runs before worker-a's had stopped their workers too.
        client.hset(job, "tries:0", MAX_DELIVERIES)
    cluster.start_worker("worker-b")

    _, reply = slack.wait_for("chat.postMessage", posted + 2, timeout=60)[posted:]
    assert "its analysis kept stopping its worker" in reply.args["text"]
    assert host.gets == 1  # not fetched again
    cluster.terminate("worker-b")
