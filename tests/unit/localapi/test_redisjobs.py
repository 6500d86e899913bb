"""The embedded API of several processes sharing its jobs in a real Redis.

Two embedded APIs (as two workers run them) over real HTTP, on one throwaway redis-server: a job
created on one is read, searched and given feedback on the other; a job whose process stopped
before finishing is taken on by the next process that reads it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from bot.httpserver import ServerThread
from bot.localapi.redisjobs import RedisJobStore
from bot.localapi.service import create_app, generate_credentials
from tests.support import apispec
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


@pytest.fixture
def shared_api(redis: RedisServer) -> Iterator[Callable[..., tuple[Api, Any]]]:
    """Embedded APIs keeping their jobs in the test's Redis; (the API, its app) each."""
    running: list[tuple[ServerThread, Any]] = []
    client = redis.client()

    def make(lease_ms: int = 10_000, **options: Any) -> tuple[Api, Any]:
        client_id, client_secret = generate_credentials()
        store = RedisJobStore(client, prefix="test", lease_ms=lease_ms)
        app = create_app(client_id, client_secret, store=store, **options)
        server = ServerThread(app).start()
        running.append((server, app))
        return Api(f"{server.url}/v2", client_id, client_secret), app

    yield make
    for server, app in running:
        server.stop()
        app.close()
    client.close()


def test_a_job_made_on_one_process_is_read_searched_and_reported_on_another(
    shared_api: Callable[..., tuple[Api, Any]], redis: RedisServer
):
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
        # Finished: kept a day, its blob and lease gone.
        assert 86_000 < client.ttl(f"test:api:job:{job['id']}") <= 86_400
        assert client.exists(f"test:api:inputs:{job['id']}", f"test:api:lease:{job['id']}") == 0


def test_the_images_of_a_stopped_process_are_finished_by_the_next_that_reads_the_job(
    shared_api: Callable[..., tuple[Api, Any]], caplog: pytest.LogCaptureFixture
):
    stopping, stopping_app = shared_api(lease_ms=300, workers=1)
    taking_over, _ = shared_api(lease_ms=300)
    names = ["chelsea.png", "coffee.png", "astronaut.png", "grace_hopper.jpg"]
    body = {"images": [blob(photo(n), n) for n in names], "classes": classes("cat", "person")}
    job = submit(stopping, body)
    # A shutdown: the image running finishes, the queued ones are dropped with the process.
    stopping_app.close()

    headers = bearer(taking_over)
    done = wait_for(taking_over, job["id"], headers)

    assert done["status"] == "COMPLETED_SUCCESSFULLY"
    found = {i["customId"]: by_class(i) for i in done["imageResults"]}
    assert found["chelsea.png"]["cat"]["verdict"] is True
    assert found["astronaut.png"]["person"]["verdict"] is True
    assert found["coffee.png"]["cat"]["verdict"] is False
    (took,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("took on")]
    assert took.endswith(f"of job {job['id']}: its worker stopped")
