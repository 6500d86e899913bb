"""The embedded API against its own v2 spec (bot/imageintelligence/v2.swagger.json), with
schemathesis: each operation it serves gets a bounded number of generated requests, valid and
invalid, over HTTP on loopback, the same examples every run.

No answer is a 5xx; an answer the spec documents for the operation matches its schema, content
type and headers; one it does not document (405 to TRACE, 415 to a body that is not JSON, 400 to a
repeated query parameter) is a client error in the API's error format; and an invalid request is
refused. Valid requests may be refused too: the embedded API reads the spec more strictly
(bot/localapi/bodies.py: an image gives exactly one of url and blob, a blob is base64, a class
name is not blank, webhookUrl and exclusionZones are refused rather than ignored).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance, status_code_conformance

from bot.imageintelligence.client import ImageIntelligenceClient
from bot.imageintelligence.contract import SPEC_FILE
from bot.localapi.service import start_local_api

SERVED = {
    "/oauth/token": ("post",),
    "/detect": ("post", "get"),
    "/detect/{id}": ("get",),
    "/feedback": ("post",),
}
EXAMPLES = 25  # per operation


def served_spec() -> dict[str, Any]:
    """The v2 spec with only the operations the embedded API serves (so that an OPTIONS answer's
    Allow header is checked against them)."""
    spec: dict[str, Any] = json.loads(SPEC_FILE.read_text(encoding="utf-8"))
    spec["paths"] = {
        path: {method: spec["paths"][path][method] for method in methods}
        for path, methods in SERVED.items()
    }
    return spec


schema = schemathesis.openapi.from_dict(served_spec())


@pytest.fixture(scope="module")
def api() -> Iterator[tuple[str, dict[str, str]]]:
    """The embedded API's base URL, and headers with a valid access token."""
    with start_local_api() as running:
        with ImageIntelligenceClient(
            running.client_id, running.client_secret, running.base_url
        ) as client:
            token = client.access_token()
        yield running.base_url, {"Authorization": f"Bearer {token}"}


def undocumented_answers_are_client_errors(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> None:
    if str(response.status_code) in case.operation.definition.raw["responses"]:
        return
    assert 400 <= response.status_code < 500, f"undocumented status {response.status_code}"
    error = response.json()["error"]
    assert isinstance(error["code"], str) and isinstance(error["message"], str), error


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_the_embedded_api_keeps_to_its_spec(
    case: schemathesis.Case, api: tuple[str, dict[str, str]]
) -> None:
    base_url, headers = api
    case.call_and_validate(
        base_url=base_url,
        headers=headers,
        excluded_checks=[status_code_conformance, positive_data_acceptance],
        additional_checks=[undocumented_answers_are_client_errors],
    )
