"""Requests built by tests/support/slack_signing.py are what Slack sends: signed as Slack's
documented example, verified and routed by Bolt to its listeners, and wrapped the same way for
Socket Mode."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from slack_bolt import App, BoltRequest
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient

from tests.support import slack_signing
from tests.support.photos import photo
from tests.support.slack_emulator import BOT_USER_ID, PAYLOADS, SlackEmulator, load_payload
from tests.support.slack_webapi import HOME, MODAL, unknown_keys

SECRET = "test-signing-secret-not-real"


def test_sign_matches_slacks_documented_example() -> None:
    vector = load_payload("signing_test_vector.json")
    headers = slack_signing.sign(
        vector["signing_secret"],
        vector["raw_body"].encode(),
        int(vector["X-Slack-Request-Timestamp"]),
    )
    assert headers == {
        "X-Slack-Signature": vector["X-Slack-Signature"],
        "X-Slack-Request-Timestamp": vector["X-Slack-Request-Timestamp"],
    }


Received = list[tuple[str, dict[str, Any], dict[str, Any]]]  # (listener, body, request headers)


@pytest.fixture(scope="module")
def bolt(slack: SlackEmulator) -> Iterator[tuple[str, Received]]:
    """A Bolt app on Bolt's WSGI adapter (its URL), recording what each listener received."""
    app = App(
        client=WebClient(token=slack.bot_token, base_url=slack.api_url),
        signing_secret=SECRET,
        process_before_response=True,  # listeners have run when the response arrives
    )
    received: Received = []

    @app.event({"type": "message", "subtype": "file_share"})
    def on_upload(body: dict[str, Any], request: BoltRequest) -> None:
        received.append(("file_share", body, request.headers))

    @app.command("/detect")
    def on_detect(ack: Any, body: dict[str, Any], request: BoltRequest) -> None:
        ack()
        received.append(("command", body, request.headers))

    @app.action("report")
    def on_report(ack: Any, body: dict[str, Any], request: BoltRequest) -> None:
        ack()
        received.append(("action", body, request.headers))

    @app.shortcut("detect_objects")
    def on_shortcut(ack: Any, body: dict[str, Any], request: BoltRequest) -> None:
        ack()
        received.append(("shortcut", body, request.headers))

    for event in ("app_uninstalled", "tokens_revoked", "app_home_opened"):

        @app.event(event)
        def on_lifecycle(body: dict[str, Any], request: BoltRequest) -> None:
            received.append((body["event"]["type"], body, request.headers))

    @app.action("edit_settings")
    def on_edit(ack: Any, body: dict[str, Any], request: BoltRequest) -> None:
        ack()
        received.append(("home_action", body, request.headers))

    @app.view("settings")
    def on_submit(ack: Any, body: dict[str, Any], request: BoltRequest) -> None:
        ack(response_action="errors", errors={"classes": "Unknown class"})
        received.append(("view_submission", body, request.headers))

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = make_server(
        "127.0.0.1", 0, SlackRequestHandler(app), server_class=WSGIServer, handler_class=Quiet
    )
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/slack/events", received
    server.shutdown()
    server.server_close()


def test_signed_requests_reach_bolt_listeners(
    slack: SlackEmulator, bolt: tuple[str, Received]
) -> None:
    url, received = bolt
    received.clear()
    file = slack.add_image(photo(), "chelsea.png")
    envelope = slack_signing.file_share_event(
        [file], channel="C9", ts="1700000000.000100", user="U111", thread_ts="1699999999.000001"
    )
    posted = slack_signing.post_signed(
        url, json.dumps(envelope).encode(), "application/json", SECRET
    )
    assert posted.status_code == 200
    command = slack_signing.slash_command_body(
        "person <https://e.com/a.jpg>", channel="C9", user="U111"
    )
    assert slack_signing.post_signed(url, command, "application/x-www-form-urlencoded", SECRET).ok
    message = {"type": "message", "ts": "1700000000.000100", "text": "", "files": [file]}
    action = slack_signing.block_actions_payload(
        [{"action_id": "report", "block_id": "b", "type": "button", "value": "F1:person"}],
        channel="C9",
        user="U111",
        message=message,
    )
    shortcut = slack_signing.message_shortcut_payload(message, "C9")
    for payload in (action, shortcut):
        body = slack_signing.interactive_body(payload)
        assert slack_signing.post_signed(url, body, "application/x-www-form-urlencoded", SECRET).ok

    kinds = {kind: body for kind, body, _ in received}
    event = kinds["file_share"]["event"]
    assert event["files"][0]["id"] == file["id"] and event["thread_ts"] == "1699999999.000001"
    assert event["subtype"] == "file_share" and event["channel"] == "C9"
    assert kinds["file_share"]["authorizations"][0]["user_id"] == BOT_USER_ID
    assert kinds["command"]["text"] == "person <https://e.com/a.jpg>"
    assert kinds["command"]["command"] == "/detect" and kinds["command"]["channel_id"] == "C9"
    assert kinds["action"]["actions"][0]["value"] == "F1:person"
    assert kinds["action"]["container"]["message_ts"] == message["ts"]
    assert kinds["shortcut"]["message"]["files"][0]["id"] == file["id"]


def test_bad_signatures_and_stale_timestamps_get_401(bolt: tuple[str, Received]) -> None:
    url, received = bolt
    received.clear()
    body = json.dumps(
        slack_signing.file_share_event([], channel="C9", ts="1700000000.000200", user="U111")
    ).encode()
    wrong = slack_signing.post_signed(url, body, "application/json", "not-the-secret")
    stale = slack_signing.post_signed(
        url, body, "application/json", SECRET, timestamp=int(time.time()) - 6 * 60
    )
    assert (wrong.status_code, stale.status_code) == (401, 401)
    assert received == []


def test_retries_carry_slacks_headers_and_event_id(bolt: tuple[str, Received]) -> None:
    url, received = bolt
    received.clear()
    envelope = slack_signing.file_share_event(
        [], channel="C9", ts="1700000000.000300", user="U111", event_id="Ev0RETRY"
    )
    body = json.dumps(envelope).encode()
    for retry_num in (None, 1):
        response = slack_signing.post_signed(
            url, body, "application/json", SECRET, retry_num=retry_num
        )
        assert response.status_code == 200
    (_, first, plain), (_, again, retried) = received
    assert first["event_id"] == again["event_id"] == "Ev0RETRY"
    assert "x-slack-retry-num" not in plain
    assert retried["x-slack-retry-num"] == ["1"]
    assert retried["x-slack-retry-reason"] == ["http_timeout"]


def test_socket_envelopes_wrap_the_same_payloads() -> None:
    fields = slack_signing.slash_command_fields("help", channel="C9", user="U111")
    envelope = slack_signing.socket_envelope("slash_commands", fields)
    assert envelope["accepts_response_payload"] is True and envelope["payload"]["text"] == "help"
    event = slack_signing.socket_envelope(
        "events_api",
        slack_signing.file_share_event([], channel="C9", ts="1.0", user="U1"),
        retry_attempt=1,
        retry_reason="timeout",
    )
    assert (event["retry_attempt"], event["retry_reason"]) == (1, "timeout")
    assert event["accepts_response_payload"] is False
    assert set(event) == set(load_payload("socket_mode_events_api_message_envelope.json"))


def event_shape(name: str) -> dict[str, Any]:
    return json.loads((PAYLOADS / "java-slack-sdk-shapes" / name).read_text())


def test_install_lifecycle_and_home_payloads_reach_bolts_listeners(
    client: WebClient, slack: SlackEmulator, bolt: tuple[str, Received]
) -> None:
    url, received = bolt
    received.clear()
    home = client.views_publish(user_id="U111", view=HOME)["view"]
    modal = client.views_open(trigger_id="7.8.settings", view=MODAL)["view"]
    values = {"classes": {"value": {"type": "plain_text_input", "value": "unicorn"}}}
    click = {"action_id": "edit_settings", "block_id": "settings", "type": "button", "value": "x"}
    events = [
        (slack_signing.app_uninstalled_event(), "events/AppUninstalledPayload.json"),
        (slack_signing.tokens_revoked_event(oauth=["U111"]), "events/TokensRevokedPayload.json"),
        (
            slack_signing.app_home_opened_event("U111", view=home),
            "events/AppHomeOpenedPayload.json",
        ),
    ]
    for envelope, shape_file in events:
        assert unknown_keys(envelope, event_shape(shape_file)) == []
        body = json.dumps(envelope).encode()
        assert slack_signing.post_signed(url, body, "application/json", SECRET).status_code == 200
    interactions = [
        (slack_signing.home_block_actions_payload([click], view=home, user="U111"), "BlockAction"),
        (slack_signing.view_submission_payload(modal, values, user="U111"), "ViewSubmission"),
    ]
    answers = []
    for payload, kind in interactions:
        shape_file = f"app-backend/{kind}Payload.json"
        # Slack's view_submission reference lists response_urls; java-slack-sdk's log has none.
        extra = ["response_urls"] if kind == "ViewSubmission" else []
        assert unknown_keys(payload, event_shape(shape_file)) == extra
        body = slack_signing.interactive_body(payload)
        answers.append(
            slack_signing.post_signed(url, body, "application/x-www-form-urlencoded", SECRET)
        )
    assert answers[1].json() == {
        "response_action": "errors",
        "errors": {"classes": "Unknown class"},
    }

    kinds = {kind: body for kind, body, _ in received}
    assert set(kinds) == {
        "app_uninstalled", "tokens_revoked", "app_home_opened", "home_action", "view_submission"
    }  # fmt: skip
    for kind in ("app_uninstalled", "tokens_revoked", "app_home_opened"):
        assert kinds[kind]["team_id"] == slack.team_id and kinds[kind]["api_app_id"] == slack.app_id
        assert kinds[kind]["authorizations"][0]["user_id"] == BOT_USER_ID
        assert kinds[kind]["event_id"].startswith("Ev") and kinds[kind]["event_time"] > 0
    assert kinds["tokens_revoked"]["event"]["tokens"] == {"oauth": ["U111"], "bot": [BOT_USER_ID]}
    assert kinds["app_home_opened"]["event"]["view"]["id"] == home["id"]
    action = kinds["home_action"]
    assert action["container"] == {"type": "view", "view_id": home["id"]}
    assert "channel" not in action and action["view"]["callback_id"] == "home"
    assert action["team"] == {"id": slack.team_id, "domain": "workspace-domain"}
    submitted = kinds["view_submission"]
    assert submitted["view"]["id"] == modal["id"] and submitted["view"]["state"]["values"] == values
    assert submitted["user"]["id"] == "U111" and "enterprise_id" not in submitted["team"]
    # Each trigger is new, so the app can open a modal from each interaction.
    assert action["trigger_id"] != submitted["trigger_id"]
    assert client.views_open(trigger_id=action["trigger_id"], view=MODAL)["ok"] is True


def test_builders_speak_for_another_workspace(slack: SlackEmulator) -> None:
    other = slack.add_workspace("T8880")
    share = slack_signing.file_share_event(
        [], channel="C8880", ts="1.0", user="U8881", team_id="T8880", bot_user_id=other.bot_user_id
    )
    assert share["team_id"] == "T8880" and share["event_context"].endswith("-T8880-C8880")
    assert share["authorizations"][0] == {
        "enterprise_id": None,
        "team_id": "T8880",
        "user_id": other.bot_user_id,
        "is_bot": True,
        "is_enterprise_install": False,
    }
    gone = slack_signing.app_uninstalled_event(team_id="T8880", bot_user_id=other.bot_user_id)
    assert gone["team_id"] == gone["authorizations"][0]["team_id"] == "T8880"
    opened = slack_signing.app_home_opened_event("U8881", team_id="T8880", bot_user_id="U0BOT8880")
    assert "view" not in opened["event"] and opened["event"]["tab"] == "home"
