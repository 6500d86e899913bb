"""The emulator's Socket Mode works with Bolt and slack_sdk's builtin client, with the app token
and a fresh ticket only."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.support.slack_emulator import SlackEmulator, load_payload
from tests.support.slack_webapi import shape, unknown_keys


def test_socket_mode_with_bolt_and_the_builtin_client() -> None:
    with SlackEmulator() as slack:
        app = App(client=WebClient(token=slack.bot_token, base_url=slack.api_url))
        seen: list[dict[str, Any]] = []
        handled = threading.Event()

        @app.event("message")
        def on_message(event: dict[str, Any]) -> None:
            seen.append(event)
            handled.set()

        @app.command("/hello-socket-mode")
        def on_command(ack: Any) -> None:
            ack("Thanks!")

        handler = SocketModeHandler(app, slack.app_token)
        frames: list[str] = []
        handler.client.on_message_listeners.append(frames.append)
        try:
            handler.connect()
            opened = slack.calls_to("apps.connections.open")[0]
            assert opened.headers["Authorization"] == f"Bearer {slack.app_token}"
            assert unknown_keys(opened.response, shape("apps.connections.open")) == []
            command = slack.send_envelope(load_payload("socket_mode_slash_commands_envelope.json"))
            assert command == load_payload("socket_mode_ack_with_payload.json")
            event = load_payload("socket_mode_events_api_message_envelope.json")
            assert slack.send_envelope(event) == {"envelope_id": event["envelope_id"]}
            assert handled.wait(5)  # Bolt acks events first, then runs the listener
            assert seen[0]["text"] == event["payload"]["event"]["text"]
            hello = json.loads(frames[0])
            assert hello["type"] == "hello" and hello["num_connections"] == 1
            assert slack.socket_connections == 1 and len(slack.acks) == 2
        finally:
            slack.stop()  # closing our side first lets the client stop at once
            handler.close()


def test_socket_mode_needs_the_app_token_and_a_fresh_ticket(
    client: WebClient, slack: SlackEmulator
) -> None:
    with pytest.raises(SlackApiError) as bot_token:
        client.apps_connections_open(app_token=slack.bot_token)
    assert bot_token.value.response["error"] == "not_allowed_token_type"
    url = WebClient(base_url=slack.api_url).apps_connections_open(app_token=slack.app_token)["url"]
    with connect(url) as socket:
        assert json.loads(socket.recv(timeout=5))["type"] == "hello"
    with pytest.raises(InvalidStatus) as reused:
        connect(url)
    assert reused.value.response.status_code == 401
