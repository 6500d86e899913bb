"""The web process's edge as the internet reaches it: `python -m bot run --http` in its own process,
sent raw bytes on real sockets by clients that stall, trickle, send too much, or send it twice.

Whatever they do, /healthz and Slack's signed requests are answered at once; the bad ones get a 4xx
(never a 500), and the log keeps one line per record, with no body and no secret from them.
"""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
import requests

from bot import sharedredis
from bot.httpserver import HEADER_SECONDS
from bot.process.signed import RedisReplays
from bot.process.web import BODY_SECONDS, MAX_BODY_BYTES, SLACK_PATH
from tests.support.cluster import Cluster, Process
from tests.support.redisserver import RedisServer
from tests.support.slack_emulator import SlackEmulator
from tests.support.slack_signing import sign, slash_command_body
from tests.support.slackbot import (
    CHANNEL,
    SIGNING_SECRET,
    USER,
    running_bot,
    shared_photo,
    wait_for_reply,
)

# Slack gives up on an answer after 3 s; the target is well under 1 s (bench_slack (4)).
ANSWERED_WITHIN = 2.5
# A deadline the edge promises, plus room for a loaded machine.
SLACK = 3.0
UNKNOWN_JOB = "job 00000000-dead-beef-0000-000000000000"


@pytest.fixture(scope="module")
def slack() -> Iterator[SlackEmulator]:
    with SlackEmulator() as emulator:
        yield emulator


@pytest.fixture(scope="module")
def web(slack: SlackEmulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    env = {
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "DETECT_WORKERS": "2",
    }
    cluster = Cluster(tmp_path_factory.mktemp("edge"), env)
    try:
        yield cluster.start_web("web")
    finally:
        cluster.stop()


def port_of(web: Process) -> int:
    assert web.url
    return int(web.url.rsplit(":", 1)[1])


def connect(web: Process, data: bytes = b"") -> socket.socket:
    client = socket.create_connection(("127.0.0.1", port_of(web)), timeout=10)
    client.sendall(data)
    return client


def status_of(client: socket.socket, timeout: float) -> int | None:
    """The status of the answer on `client` within `timeout` s; None if it closed unanswered."""
    client.settimeout(timeout)
    head = client.recv(65536)
    if not head:
        return None
    match = re.match(rb"HTTP/1\.1 (\d{3}) ", head)
    assert match, head[:200]
    return int(match.group(1))


def request(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        "Host: bot.test",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def stalled_body(web: Process) -> socket.socket:
    """Headers declaring a body under the limit, then part of it, then nothing."""
    head = request(
        "POST", SLACK_PATH, {"Content-Type": "application/json", "Content-Length": "500000"}
    )
    return connect(web, head + b'{"type": "event_callback", ')


def slowloris(web: Process) -> socket.socket:
    """A request line and some headers, and never the blank line that ends them."""
    return connect(web, b"POST /slack/events HTTP/1.1\r\nHost: bot.test\r\nX-Slow: 1\r\n")


def test_stalled_and_slow_clients_leave_health_checks_and_slack_answered(
    web: Process, slack: SlackEmulator
):
    with ExitStack() as opened:
        opened_at = time.monotonic()
        stalled = [opened.enter_context(stalled_body(web)) for _ in range(8)]
        slow = [opened.enter_context(slowloris(web)) for _ in range(8)]

        begun = time.monotonic()
        health = requests.get(f"{web.url}/healthz", timeout=10)
        health_took = time.monotonic() - begun
        cat, envelope = shared_photo(slack)
        begun = time.monotonic()
        ack = post(web, json.dumps(envelope).encode(), "application/json")
        ack_took = time.monotonic() - begun

        assert (health.status_code, ack.status_code) == (200, 200)
        assert health_took < ANSWERED_WITHIN and ack_took < ANSWERED_WITHIN
        wait_for_reply(slack, cat["ts"], CHANNEL)
        # Each stalled body is refused once the body's deadline passes; each slow header's
        # connection is closed unanswered once the headers' deadline passes.
        assert [status_of(c, BODY_SECONDS + SLACK) for c in stalled] == [408] * 8
        assert [status_of(c, HEADER_SECONDS + SLACK) for c in slow] == [None] * 8
        assert time.monotonic() - opened_at < max(BODY_SECONDS, HEADER_SECONDS) + 2 * SLACK


def test_a_body_over_the_limit_is_refused_before_it_is_sent(web: Process):
    huge = {"Content-Type": "application/json", "Content-Length": str(200_000_000)}
    with connect(web, request("POST", SLACK_PATH, huge)) as declared:
        assert status_of(declared, SLACK) == 413
    chunked = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
    chunk = b"%x\r\n%s\r\n" % (65536, b"x" * 65536)
    with connect(web, request("POST", SLACK_PATH, chunked)) as streamed:
        sent = 0
        try:
            while sent <= MAX_BODY_BYTES + 65536:
                streamed.sendall(chunk)
                sent += 65536
        except OSError:  # the edge answered and closed while it was still sending
            pass
        assert status_of(streamed, SLACK) == 413


def post(web: Process, body: bytes, content_type: str, **headers: str) -> requests.Response:
    return requests.post(
        f"{web.url}{SLACK_PATH}",
        data=body,
        headers={"Content-Type": content_type, **sign(SIGNING_SECRET, body), **headers},
        timeout=10,
    )


def test_a_replayed_signed_command_runs_once(web: Process, slack: SlackEmulator):
    body = slash_command_body(UNKNOWN_JOB, channel=CHANNEL, user=USER)
    headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(SIGNING_SECRET, body)}
    url = f"{web.url}{SLACK_PATH}"
    before = len(slack.calls_to("chat.postEphemeral"))

    first = requests.post(url, data=body, headers=headers, timeout=10)
    replayed = requests.post(url, data=body, headers=headers, timeout=10)
    # The same command signed at another time is Slack's again, not a replay.
    later = sign(SIGNING_SECRET, body, int(headers["X-Slack-Request-Timestamp"]) + 1)
    again = requests.post(url, data=body, headers={**headers, **later}, timeout=10)

    assert (first.status_code, replayed.status_code, again.status_code) == (200, 401, 200)
    slack.wait_for("chat.postEphemeral", before + 2, timeout=10)
    time.sleep(0.5)  # what a second run of the replay would have posted by now
    assert len(slack.calls_to("chat.postEphemeral")) == before + 2
    assert "refused a replay of a request already taken" in web.logged()


def test_on_redis_a_replay_is_refused_and_the_signature_is_taken_for_every_process(
    slack: SlackEmulator, redis: RedisServer
):
    body = slash_command_body(UNKNOWN_JOB, channel=CHANNEL, user=USER)
    headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(SIGNING_SECRET, body)}
    with running_bot(slack, REDIS_URL=redis.url) as bot:
        answers = [requests.post(bot.url, data=body, headers=headers, timeout=10) for _ in "12"]

    assert [answer.status_code for answer in answers] == [200, 401]
    # Another web process on the same Redis finds the signature taken.
    other = RedisReplays(sharedredis.connect(redis.url), sharedredis.Outage(redis.url))
    assert other.first(headers["X-Slack-Signature"], 60) is False


FORGED = "2030-01-01 00:00:00,000 ERROR bot.cli: forged"
LEGACY_TOKEN = "LegacyVerificationToken1234"
RESPONSE_URL = "https://hooks.slack.com/commands/T111/222/secret-response-url"


def test_a_refused_request_logs_one_line_without_its_body(web: Process):
    body = (
        json.dumps(
            {"token": LEGACY_TOKEN, "response_url": RESPONSE_URL, "text": f"hi\n{FORGED}\r\n"}
        )
        .replace("\\n", "\n")
        .encode()
    )  # a raw newline, as a client may send one
    forged_header = {"X-Slack-Signature": f"v0=00\n{FORGED}", "X-Slack-Request-Timestamp": "1"}

    unsigned = requests.post(f"{web.url}{SLACK_PATH}", data=body, timeout=10)
    badly_signed = requests.post(
        f"{web.url}{SLACK_PATH}",
        data=body,
        headers={"X-Slack-Signature": "v0=" + "0" * 64, "X-Slack-Request-Timestamp": "1"},
        timeout=10,
    )
    with connect(web, request("POST", SLACK_PATH, {"Content-Length": "2"}, b"{}")) as raw:
        raw.sendall(request("POST", SLACK_PATH, {**forged_header, "Content-Length": "0"}))
        assert status_of(raw, SLACK) == 401

    assert (unsigned.status_code, badly_signed.status_code) == (401, 401)
    logged = web.logged()
    assert "refused a request with" in logged
    assert not [line for line in logged.splitlines() if line.startswith(FORGED[:20])]
    for secret in (LEGACY_TOKEN, RESPONSE_URL, "forged"):
        assert secret not in logged


HOSTILE = {
    "a timestamp that is no number": request(
        "POST",
        SLACK_PATH,
        {"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=ab", "Content-Length": "2"},
        b"{}",
    ),
    "an unsigned body that is no JSON, sent as JSON": request(
        "POST",
        SLACK_PATH,
        {"Content-Type": "application/json", "Content-Length": "9"},
        b"[[[[[[[[[",
    ),
    "a signature that is not ASCII": request(
        "POST",
        SLACK_PATH,
        {"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=\xff\xfe"},
    ),
    "the wrong method": request("GET", SLACK_PATH, {}),
    "a method unheard of": request("BREW", "/healthz", {}),
    "headers of 64 kB at once": request("GET", "/healthz", {"X-Big": "a" * 65536}),
    "a header of 1 MB": request("GET", "/healthz", {"X-Big": "a" * 1_048_576}),
    "a length that is no number": request("POST", SLACK_PATH, {"Content-Length": "ten"}),
    "a length of 40 digits": request("POST", SLACK_PATH, {"Content-Length": "9" * 40}),
    "a broken chunk": request("POST", SLACK_PATH, {"Transfer-Encoding": "chunked"}, b"zz\r\n"),
    "a path that is not ASCII": b"GET /\xff\xfe HTTP/1.1\r\nHost: bot.test\r\n\r\n",
    "a path of bad escapes": request("GET", "/%ff%fe%", {}),
    "HTTP/1.1 without a Host": b"GET /healthz HTTP/1.1\r\n\r\n",
    "not HTTP at all": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40 + b"\r\n\r\n",
    "an install page that is not served": request("GET", "/slack/install?x=%zz", {}),
}


@pytest.mark.parametrize("raw", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_malformed_request_gets_a_4xx_never_a_500(web: Process, raw: bytes):
    logged_before = len(web.logged())
    with connect(web, raw) as client:
        status = status_of(client, SLACK)

    assert status is not None and 400 <= status < 500, status
    logged = web.logged()[logged_before:]
    assert "Traceback" not in logged and " ERROR " not in logged, logged
