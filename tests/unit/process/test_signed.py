"""bot.process.signed: which requests are Slack's, and replays of them, in memory and on a real Redis."""

from __future__ import annotations

import pytest
from slack_sdk.signature import Clock

from bot.process.signed import WINDOW, MemoryReplays, RedisReplays, SlackSignatures, is_ssl_check
from bot.sharedredis import Outage, connect
from tests.support.redisserver import RedisServer
from tests.support.slack_signing import sign

SECRET = "unit-signing-secret-0123456789"
NOW = 1_800_000_000
BODY = b'{"type": "event_callback"}'


class At(Clock):
    def __init__(self, now: float) -> None:
        self.at = now

    def now(self) -> float:
        return self.at


def signed(body: bytes = BODY, timestamp: int = NOW) -> dict[str, str]:
    return {k.lower(): v for k, v in sign(SECRET, body, timestamp).items()}


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({}, "no valid X-Slack-Request-Timestamp"),
        ({**signed(), "x-slack-request-timestamp": "12e3"}, "no valid X-Slack-Request-Timestamp"),
        ({**signed(), "x-slack-request-timestamp": "٣٣"}, "no valid X-Slack-Request-Timestamp"),
        ({**signed(), "x-slack-request-timestamp": "9" * 40}, "no valid X-Slack-Request-Timestamp"),
        ({**signed(), "x-slack-signature": "v0=\xff"}, "no valid X-Slack-Signature"),
        ({**signed(), "x-slack-signature": "v1=00"}, "no valid X-Slack-Signature"),
        (signed(b"another body"), "a signature that does not match, or is over five minutes old"),
        (
            signed(timestamp=NOW - WINDOW - 1),
            "a signature that does not match, or is over five minutes old",
        ),
    ],
    ids=["unsigned", "float", "arabic-digits", "40-digits", "not-ascii", "v1", "body", "stale"],
)
def test_a_request_not_signed_by_slack_is_refused_saying_why(headers: dict[str, str], why: str):
    signatures = SlackSignatures(SECRET, MemoryReplays(), At(NOW))
    assert signatures.refusal(headers, BODY) == why


def test_a_signed_request_is_taken_once_within_its_window_then_forgotten_if_it_failed():
    clock = At(NOW)
    signatures = SlackSignatures(SECRET, MemoryReplays(lambda: clock.at), clock)
    first, other = signed(), signed(timestamp=NOW + 1)

    assert signatures.refusal(first, BODY) is None
    assert [signatures.replayed(first), signatures.replayed(first)] == [False, True]
    assert signatures.replayed(other) is False  # Slack's retry: signed anew
    clock.at = NOW + WINDOW  # the last second it verifies: still a replay
    assert signatures.replayed(first) is True
    signatures.failed(first)
    assert signatures.replayed(first) is False


def test_memory_forgets_a_signature_once_its_window_has_closed():
    clock = At(0)
    replays = MemoryReplays(lambda: clock.at)
    assert replays.first("a", 10) and not replays.first("a", 10)
    clock.at = 10
    assert replays.first("a", 10)


def test_redis_remembers_a_signature_for_every_process_until_its_window_closes(redis: RedisServer):
    url = redis.url
    one, two = (RedisReplays(connect(url), Outage(url)) for _ in range(2))
    assert one.first("sig", 5) is True
    assert two.first("sig", 5) is False
    with redis.client() as client:
        (key,) = client.keys("ii-bot:signed:*")
        assert 0 < client.ttl(key) <= 5
    two.forget("sig")
    assert one.first("sig", 5) is True


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        ("application/x-www-form-urlencoded", b"ssl_check=1&token=abc", True),
        ("application/x-www-form-urlencoded", b"ssl_check=0&token=abc", False),
        ("application/x-www-form-urlencoded", b"ssl_check=1&ssl_check=1", False),
        ("application/json", b'{"ssl_check": "1"}', False),
    ],
)
def test_only_slacks_certificate_check_is_taken_unsigned(
    content_type: str, body: bytes, expected: bool
):
    assert is_ssl_check({"content-type": content_type}, body) is expected
