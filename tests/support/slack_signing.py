"""Requests the way Slack sends them: signed, built from Slack's own payloads.

Builders start from the payload files in tests/contracts/slack/payloads and override only what a test
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

from tests.support.slack_emulator import APP_ID, BOT_USER_ID, PAYLOADS, TEAM_ID, load_payload

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
    if timestamp is None and retry_num is not None:
        # Slack signs each try as it sends it, after the one before: never with the same signature
        # (which the bot refuses as a replay).
        timestamp = int(time.time()) + retry_num
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
    team_id: str = TEAM_ID,
    bot_user_id: str = BOT_USER_ID,
) -> JsonDict:
    """The Events API envelope of a ``message``/``file_share`` event (bolt_message_file_share_event.json).

    ``event_id`` defaults to a fresh one (Slack keeps it across retries of one delivery). The
    envelope's authorization is the bot user of the workspace ``team_id`` (default: the emulator's
    default one), as Slack fills it for the installed app.
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
        team_id=team_id,
        api_app_id=APP_ID,
        event_id=event_id or _event_id(),
        event_time=int(float(ts)),
        event_context=f"4-message-{team_id}-{channel}",
    )
    envelope["authorizations"][0].update(team_id=team_id, user_id=bot_user_id)
    return envelope


def _event_id() -> str:
    return f"Ev{uuid.uuid4().hex[:10].upper()}"


def _trigger_id() -> str:
    """A fresh trigger id in Slack's format ("12345.98765.abcd2358fdea"): views.open takes each once."""
    return f"{time.time_ns() % 10**10}.{uuid.uuid4().int % 10**9}.{uuid.uuid4().hex[:20]}"


def _callback(
    envelope: JsonDict,
    team_id: str,
    bot_user_id: str,
    event_id: str | None,
    event_time: int | None,
) -> JsonDict:
    """Fill an ``event_callback`` envelope for the app in workspace ``team_id``: the fields of Slack's
    documented envelope, with ``authorizations`` and ``is_ext_shared_channel`` as a logged real
    envelope has them (slack_web_app_home_opened_messages_envelope.json)."""
    real = load_payload("slack_web_app_home_opened_messages_envelope.json")
    authorization = real["authorizations"][0]
    authorization.update(team_id=team_id, user_id=bot_user_id)
    envelope.update(
        team_id=team_id,
        api_app_id=APP_ID,
        event_id=event_id or _event_id(),
        event_time=int(time.time()) if event_time is None else event_time,
        authorizations=[authorization],
        is_ext_shared_channel=False,
    )
    return envelope


def app_uninstalled_event(
    *,
    team_id: str = TEAM_ID,
    bot_user_id: str = BOT_USER_ID,
    event_id: str | None = None,
    event_time: int | None = None,
) -> JsonDict:
    """The ``app_uninstalled`` envelope Slack sends when workspace ``team_id`` removes the app
    (slack_docs_app_uninstalled_event.json)."""
    envelope = load_payload("slack_docs_app_uninstalled_event.json")
    return _callback(envelope, team_id, bot_user_id, event_id, event_time)


def tokens_revoked_event(
    *,
    bot: list[str] | None = None,
    oauth: list[str] | None = None,
    team_id: str = TEAM_ID,
    bot_user_id: str = BOT_USER_ID,
    event_id: str | None = None,
    event_time: int | None = None,
) -> JsonDict:
    """The ``tokens_revoked`` envelope (slack_docs_tokens_revoked_event.json): ``bot`` and ``oauth``
    list the user ids whose bot and user tokens were revoked (default: the bot's, no user's); an
    empty kind is left out."""
    envelope = load_payload("slack_docs_tokens_revoked_event.json")
    tokens = {"oauth": oauth or [], "bot": [bot_user_id] if bot is None else bot}
    envelope["event"]["tokens"] = {kind: ids for kind, ids in tokens.items() if ids}
    return _callback(envelope, team_id, bot_user_id, event_id, event_time)


def app_home_opened_event(
    user: str,
    *,
    view: JsonDict | None = None,
    channel: str = "D0HOME0001",
    tab: str = "home",
    team_id: str = TEAM_ID,
    bot_user_id: str = BOT_USER_ID,
    event_id: str | None = None,
    event_time: int | None = None,
) -> JsonDict:
    """The ``app_home_opened`` envelope for ``user`` opening the app's ``tab`` (the inner event of
    slack_docs_app_home_opened_event.json). Slack includes the Home tab's ``view`` only once one was
    published: pass ``slack.home_view(user, team=...)``, which is None before that."""
    now = time.time()
    event = load_payload("slack_docs_app_home_opened_event.json")
    event.update(user=user, channel=channel, tab=tab, event_ts=f"{now:.6f}")
    if view is None:
        del event["view"]
    else:
        event["view"] = copy.deepcopy(view)
    envelope = load_payload("slack_web_app_home_opened_messages_envelope.json")
    envelope["event"] = event
    return _callback(envelope, team_id, bot_user_id, event_id, event_time or int(now))


def _interactor(payload: JsonDict, user: str, team_id: str) -> None:
    """The user and workspace of an interaction payload, for a workspace outside Enterprise Grid
    (the bolt samples are from one: their ``team`` carries ``enterprise_id``)."""
    payload["user"].update(id=user, username=user.lower(), name=user.lower(), team_id=team_id)
    payload["team"] = {"id": team_id, "domain": payload["team"]["domain"]}
    payload["api_app_id"] = APP_ID


def view_submission_payload(
    view: JsonDict,
    values: JsonDict,
    *,
    user: str,
    team_id: str = TEAM_ID,
    trigger_id: str | None = None,
) -> JsonDict:
    """A ``view_submission`` payload (bolt_view_submission_payload.json) for ``view`` as the emulator
    has it (``slack.view(view_id)``), submitted with ``values``: ``view.state.values``, keyed by
    block_id then action_id, e.g. ``{"b": {"a": {"type": "plain_text_input", "value": "x"}}}``."""
    payload = load_payload("bolt_view_submission_payload.json")
    _interactor(payload, user, team_id)
    payload["trigger_id"] = trigger_id or _trigger_id()
    payload["view"] = copy.deepcopy(view)
    payload["view"]["state"] = {"values": copy.deepcopy(values)}
    return payload


def home_block_actions_payload(
    actions: list[JsonDict],
    *,
    view: JsonDict,
    user: str,
    team_id: str = TEAM_ID,
    trigger_id: str | None = None,
) -> JsonDict:
    """A ``block_actions`` payload for ``actions`` clicked in the Home tab ``view`` (e.g.
    ``slack.home_view(user)``): bolt_block_actions_payload.json with Slack's ``container`` for a
    view (``{"type": "view", "view_id"}``, as in bolt-python's block_suggestion sample) and the
    ``view``, without the message-only ``channel``, ``message`` and ``response_url``."""
    payload = load_payload("bolt_block_actions_payload.json")
    _interactor(payload, user, team_id)
    for key in ("channel", "message", "response_url"):
        payload.pop(key, None)
    payload.update(
        container={"type": "view", "view_id": view["id"]},
        view=copy.deepcopy(view),
        trigger_id=trigger_id or _trigger_id(),
        actions=actions,
    )
    return payload


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
