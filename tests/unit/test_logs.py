"""bot.logs: every record one line (or indented under it), with every secret redacted."""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator

import pytest

from bot.config import load_settings
from bot.logs import SafeFormatter, configured_secrets, one_line, set_up_logging

SIGNING_SECRET = "a-signing-secret-3f9e"


@pytest.fixture
def logged(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """What the process's logging set-up writes to stderr (set up with a signing secret)."""
    stderr = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    root.handlers.clear()  # as in a process of its own, not under pytest
    settings = load_settings({"SLACK_SIGNING_SECRET": SIGNING_SECRET}, dotenv_path=None)
    set_up_logging("DEBUG", settings)
    try:
        yield stderr
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def test_a_newline_from_outside_cannot_start_a_record(logged: io.StringIO):
    forged = "2030-01-01 00:00:00,000 ERROR bot: forged"
    logging.getLogger("slack_bolt.App").info(
        "Unhandled request (%s)", f"x\n{forged}\r\u2028\x1b[2J"
    )
    try:
        raise ValueError(f"bad\n{forged}")
    except ValueError:
        logging.getLogger("bot").exception("failed on %r", "input")

    lines = logged.getvalue().splitlines()
    assert lines[0].endswith(
        f"INFO slack_bolt.App: Unhandled request (x\\x0a{forged}\\x0d\\u2028\\x1b[2J)"
    )
    assert lines[1].endswith("ERROR bot: failed on 'input'")
    assert lines[2:] and all(line.startswith("    ") for line in lines[2:])
    assert any(line == f"    {forged}" for line in lines[2:])


@pytest.mark.parametrize(
    "secret",
    [
        "xoxb-1234-5678-AbCdEf",
        "xoxp-1-2-3-abc",
        "xoxa-2-abc",
        "xoxr-abc",
        "xoxe-1-My0xYTYzZDg",
        "xoxe.xoxb-1-MS0yLTIyMjI",
        "xapp-1-A111-222-abcdef",
        SIGNING_SECRET,
    ],
)
def test_secrets_are_redacted_from_any_logger_at_any_level(logged: io.StringIO, secret: str):
    logging.getLogger("slack_sdk.web.base_client").debug("body: {'token': 'x', 'v': '%s'}", secret)
    logging.getLogger("urllib3").warning("%s", secret)
    try:
        raise RuntimeError(f"with {secret} inside")
    except RuntimeError:
        logging.getLogger("bot").error("failed", exc_info=True)

    assert secret not in logged.getvalue()
    assert "[redacted]" in logged.getvalue()


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ('{"access_token": "at-123", "ok": true}', '{"access_token": "[redacted]", "ok": true}'),
        ("{'refresh_token': 'rt-9'}", "{'refresh_token': '[redacted]'}"),
        ("client_id=1&client_secret=s3cr3t&code=2", "client_id=1&client_secret=[redacted]&code=2"),
        ("token=legacy123&team_id=T1", "token=[redacted]&team_id=T1"),
        ("tokens: 3, bot_id: B1", "tokens: 3, bot_id: B1"),
    ],
)
def test_secret_fields_are_redacted_by_name(text: str, redacted: str):
    assert SafeFormatter().redact(text) == redacted


def test_the_configured_secrets_are_the_settings_kept_out_of_their_repr():
    settings = load_settings(
        {
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "II_CLIENT_ID": "id",
            "II_CLIENT_SECRET": "s" * 12,
        },
        dotenv_path=None,
    )
    assert set(configured_secrets(settings)) == {SIGNING_SECRET, "s" * 12}


def test_one_line_escapes_control_characters_only():
    assert one_line("tab\there é\x00\x7f\x85") == "tab\\x09here é\\x00\\x7f\\x85"
