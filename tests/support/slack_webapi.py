"""The emulator's Web API as its contract tests use it: a client for any token, a Home tab and a
modal as an app sends them, and the keys Slack's answers carry (java-slack-sdk's key supersets, in
contracts/slack/payloads), to hold the emulator's answers to them."""

from __future__ import annotations

import json
from typing import Any

from slack_sdk import WebClient

from tests.support.slack_emulator import PAYLOADS, SlackEmulator

SHAPES = PAYLOADS / "java-slack-sdk-shapes" / "api"
HOME = {
    "type": "home",
    "callback_id": "home",
    "blocks": [
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Settings*"}},
        {"type": "actions", "block_id": "settings", "elements": [
            {"type": "button", "action_id": "edit_settings",
             "text": {"type": "plain_text", "text": "Edit settings"}}]},
    ],
}  # fmt: skip
MODAL = {
    "type": "modal",
    "callback_id": "settings",
    "title": {"type": "plain_text", "text": "Settings"},
    "submit": {"type": "plain_text", "text": "Save"},
    "blocks": [{"type": "input", "block_id": "classes", "label": {"type": "plain_text", "text": "Classes"},
                "element": {"type": "plain_text_input", "action_id": "value"}}],
}  # fmt: skip


def bot_client(slack: SlackEmulator, token: str | None) -> WebClient:
    return WebClient(token=token, base_url=slack.api_url)


def unknown_keys(value: Any, shape: Any, path: str = "") -> list[str]:
    """Keys of ``value`` that Slack's responses never carry (per the java-slack-sdk key supersets,
    where an empty object, like a view's ``state``, is a map whose keys are the app's own)."""
    if isinstance(value, dict) and isinstance(shape, dict) and shape:
        found = []
        for key, item in value.items():
            if key == "blocks":  # the app's own, echoed back (java-slack-sdk logs none in views)
                continue
            if key not in shape:
                found.append(path + key)
            else:
                found += unknown_keys(item, shape[key], f"{path}{key}.")
        return found
    if isinstance(value, list) and isinstance(shape, list) and shape:
        return [k for item in value for k in unknown_keys(item, shape[0], f"{path}[].")]
    return []


def shape(method: str) -> dict[str, Any]:
    return json.loads((SHAPES / f"{method}.json").read_text())
