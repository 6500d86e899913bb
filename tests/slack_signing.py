"""Requests the way Slack sends them: signed, built from Slack's own payloads.

Builders start from the payload files in slack_contracts/payloads and override only what a test
names, so everything else keeps the keys and values Slack really sends.

    envelope = file_share_event([slack.add_image(photo)], channel="C111", ts="1700000000.000100",
                                user="U111")
    body = json.dumps(envelope).encode()
    response = post_signed(f"{app_url}/slack/events", body, "application/json", SIGNING_SECRET)
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlencode

import requests

from tests.slack_emulator import APP_ID, BOT_USER_ID, PAYLOADS, TEAM_ID, load_payload

JsonDict = dict[str, Any]


def sign(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """Slack's signature headers for ``body``: ``v0=hex(HMAC-SHA256(secret, "v0:{ts}:{body}"))``."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Signature": f"v0={digest}", "X-Slack-Request-Timestamp": ts}


def post_signed(
    url: str,
    body: bytes,
    content_type: str,
    secret: str,
    *,
    retry_num: int | None = None,
    retry_reason: str = "http_timeout",
    timestamp: int | None = None,
    timeout: float = 10.0,
) -> requests.Response:
    """POST ``body`` signed with ``secret``, as Slack delivers events, commands and interactions.

    ``retry_num`` adds ``X-Slack-Retry-Num`` / ``X-Slack-Retry-Reason`` as on Slack's redeliveries;
    ``timestamp`` signs with another time (e.g. a stale one).
    """
    headers = {"Content-Type": content_type, **sign(secret, body, timestamp)}
    if retry_num is not None:
        headers["X-Slack-Retry-Num"] = str(retry_num)
        headers["X-Slack-Retry-Reason"] = retry_reason
    return requests.post(url, data=body, headers=headers, timeout=timeout)


def file_share_event(
    files: list[JsonDict],
    *,
    channel: str,
    ts: str,
    user: str,
    thread_ts: str | None = None,
    text: str = "",
    event_id: str | None = None,
    bot_id: str | None = None,
    subtype: str | None = "file_share",
    channel_type: str = "channel",
) -> JsonDict:
    """The Events API envelope of a ``message``/``file_share`` event (bolt_message_file_share_event.json).

    ``event_id`` defaults to a fresh one (Slack keeps it across retries of one delivery). The
    envelope's authorization is the emulator's bot user, as Slack fills it for the installed app.
    """
    envelope = load_payload("bolt_message_file_share_event.json")
    event = envelope["event"]
    event.update(
        files=files,
        channel=channel,
        ts=ts,
        event_ts=ts,
        user=user,
        text=text,
        channel_type=channel_type,
        client_msg_id=str(uuid.uuid4()),
    )
    event["blocks"][0]["elements"][0]["elements"][0]["text"] = text
    if not text:
        del event["blocks"]
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
    if bot_id is not None:
        event["bot_id"] = bot_id
    if subtype is None:
        del event["subtype"]
    else:
        event["subtype"] = subtype
    envelope.update(
        team_id=TEAM_ID,
        api_app_id=APP_ID,
        event_id=event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
        event_time=int(float(ts)),
        event_context=f"4-message-{TEAM_ID}-{channel}",
    )
    envelope["authorizations"][0].update(team_id=TEAM_ID, user_id=BOT_USER_ID)
    return envelope


def slash_command_fields(
    text: str,
    *,
    channel: str,
    user: str,
    command: str = "/detect",
    response_url: str = "https://hooks.slack.com/commands/T111/111/xxxxx",
    trigger_id: str = "111.111.xxx",
) -> dict[str, str]:
    """A slash command's fields (bolt_slash_command_body.txt): the Socket Mode payload as is."""
    raw = (PAYLOADS / "bolt_slash_command_body.txt").read_text().strip()
    fields = dict(parse_qsl(raw, keep_blank_values=True))
    fields.update(
        team_id=TEAM_ID,
        channel_id=channel,
        user_id=user,
        command=command,
        text=text,
        response_url=response_url,
        trigger_id=trigger_id,
        api_app_id=APP_ID,
    )
    return fields


def slash_command_body(text: str, **fields: str) -> bytes:
    """A slash command as Slack posts it over HTTP: the fields of `slash_command_fields`, form-encoded."""
    return urlencode(slash_command_fields(text, **fields)).encode()


def block_actions_payload(
    actions: list[JsonDict],
    *,
    channel: str,
    user: str,
    message: JsonDict | None = None,
    response_url: str = "https://hooks.slack.com/actions/T111/111/random-value",
) -> JsonDict:
    """A ``block_actions`` payload (bolt_block_actions_payload.json) for ``actions`` clicked on
    ``message`` (a message as Slack has it, e.g. ``chat.postMessage``'s ``message``)."""
    payload = load_payload("bolt_block_actions_payload.json")
    payload["user"].update(id=user, team_id=TEAM_ID)
    payload["team"]["id"] = TEAM_ID
    payload["api_app_id"] = APP_ID
    payload["channel"]["id"] = channel
    payload["response_url"] = response_url
    payload["actions"] = actions
    if message is not None:
        payload["message"] = copy.deepcopy(message)
        payload["container"] = {
            "type": "message",
            "message_ts": message["ts"],
            "channel_id": channel,
            "is_ephemeral": False,
        }
    else:
        payload["container"]["channel_id"] = channel
    return payload


def message_shortcut_payload(
    message: JsonDict,
    channel: str,
    *,
    user: str = "U111",
    callback_id: str = "detect_objects",
    trigger_id: str = "111.222.xxx",
    response_url: str = "https://hooks.slack.com/app/T111/111/xxx",
) -> JsonDict:
    """A message shortcut (``message_action``, bolt_message_action_payload.json) on ``message``."""
    payload = load_payload("bolt_message_action_payload.json")
    payload["team"]["id"] = TEAM_ID
    payload["user"]["id"] = user
    payload["channel"]["id"] = channel
    payload.update(
        callback_id=callback_id,
        trigger_id=trigger_id,
        response_url=response_url,
        message_ts=message["ts"],
        message=copy.deepcopy(message),
    )
    return payload


def interactive_body(payload: JsonDict) -> bytes:
    """An interaction as Slack posts it over HTTP: ``payload=<urlencoded JSON>``."""
    return urlencode({"payload": json.dumps(payload)}).encode()


def socket_envelope(
    kind: str,
    payload: JsonDict,
    *,
    envelope_id: str | None = None,
    retry_attempt: int = 0,
    retry_reason: str = "",
) -> JsonDict:
    """A Socket Mode envelope (``events_api``, ``slash_commands`` or ``interactive``) for ``payload``.

    The shape and ``accepts_response_payload`` are those of the socket_mode_*_envelope.json files
    (true for slash commands only).
    """
    template = {
        "events_api": "socket_mode_events_api_message_envelope.json",
        "slash_commands": "socket_mode_slash_commands_envelope.json",
        "interactive": "socket_mode_interactive_shortcut_envelope.json",
    }[kind]
    envelope = load_payload(template)
    envelope.update(envelope_id=envelope_id or str(uuid.uuid4()), payload=payload)
    if kind == "events_api":
        envelope.update(retry_attempt=retry_attempt, retry_reason=retry_reason)
    return envelope
