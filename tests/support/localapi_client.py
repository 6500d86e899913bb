"""A client of the v2 API for tests: every request body is checked against the spec, and every
successful response validated against its definition."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Any, Protocol

import requests

from tests.support import apispec


class ApiLike(Protocol):
    base_url: str
    client_id: str
    client_secret: str


@dataclass
class Api:
    base_url: str
    client_id: str
    client_secret: str


def blob(data: bytes, custom_id: str | None = None) -> dict[str, str]:
    item = {"blob": base64.b64encode(data).decode()}
    if custom_id is not None:
        item["customId"] = custom_id
    return item


def classes(*names: str) -> list[dict[str, str]]:
    return [{"class": name, "verify": "NEVER"} for name in names]


def new_token(api: ApiLike) -> dict[str, Any]:
    body = {"clientId": api.client_id, "clientSecret": api.client_secret}
    apispec.validate("ClientCredentials", body)
    response = requests.post(f"{api.base_url}/oauth/token", json=body, timeout=10)
    assert response.status_code == 200, response.text
    token = response.json()
    apispec.validate("AccessTokenResponse", token)
    return token


def bearer(api: ApiLike) -> dict[str, str]:
    return {"Authorization": f"Bearer {new_token(api)['accessToken']}"}


def submit(api: ApiLike, body: dict[str, Any], headers: dict[str, str] | None = None) -> dict:
    apispec.validate("DetectJobRequest", body)
    response = requests.post(
        f"{api.base_url}/detect", json=body, headers=headers or bearer(api), timeout=10
    )
    assert response.status_code == 200, response.text
    job = response.json()
    apispec.validate("DetectJobResponse", job)
    assert job["status"] == "IN_PROGRESS"
    assert [image["status"] for image in job["imageResults"]] == ["IN_PROGRESS"] * len(
        body["images"]
    )
    return job


def get_job(api: ApiLike, job_id: str, headers: dict[str, str]) -> dict:
    response = requests.get(f"{api.base_url}/detect/{job_id}", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    job = response.json()
    apispec.validate("DetectJobResponse", job)
    return job


def wait_for(api: ApiLike, job_id: str, headers: dict[str, str], timeout: float = 15) -> dict:
    deadline = time.monotonic() + timeout
    while (job := get_job(api, job_id, headers))["status"] == "IN_PROGRESS":
        assert time.monotonic() < deadline, f"job {job_id} still in progress"
        time.sleep(0.01)
    return job


def detect(api: ApiLike, body: dict[str, Any]) -> dict:
    headers = bearer(api)
    return wait_for(api, submit(api, body, headers)["id"], headers)


def search(api: ApiLike, query: str, headers: dict[str, str]) -> list[dict]:
    response = requests.get(f"{api.base_url}/detect?{query}", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    jobs = response.json()
    for job in jobs:
        apispec.validate("DetectJobResponse", job)
    return jobs


def by_class(image: dict) -> dict[str, dict]:
    return {obj["class"]: obj for obj in image["objects"]}
