"""manifest.yml: valid for Slack, asks for what the issue lists, and the bot handles all it subscribes.

Slack creates the app from this file, then delivers what it subscribes to (events, the command,
the shortcut) to its request URL; Bolt answers 404 to a request no listener takes, and Slack
retries it. So every subscription is posted to the running bot, derived from the manifest itself.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import yaml
from jsonschema import Draft7Validator

from bot.process.web import SLACK_PATH
from bot.workspaces.oauth import REDIRECT_PATH
from tests.support.paths import REPO, SLACK_CONTRACTS
from tests.support.slack_emulator import BOT_USER_ID, TEAM_ID, SlackEmulator, load_payload
from tests.support.slack_signing import message_shortcut_payload, post_signed, slash_command_body
from tests.support.slackbot import CHANNEL, SIGNING_SECRET, USER, Bot, running_bot

SCHEMAS = SLACK_CONTRACTS / "manifest"
MANIFEST: dict[str, Any] = yaml.safe_load((REPO / "manifest.yml").read_text())
# Where a message.* event happens, as the event's channel_type says it.
CHANNEL_TYPES = {"channels": "channel", "groups": "group", "im": "im", "mpim": "mpim"}
CHANNEL_IDS = {"channel": CHANNEL, "group": "G0PRIVATE1", "im": "D0DIRECT01", "mpim": "G0MPIM0001"}


def validator() -> Draft7Validator:
    schema = json.loads((SCHEMAS / "manifest.schema.1.0.0.json").read_text())
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema)


def problems(manifest: dict[str, Any]) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator().iter_errors(manifest)]


# -- the file itself ------------------------------------------------------------------------------


def test_the_manifest_validates_against_slacks_schema():
    assert problems(MANIFEST) == []


@pytest.mark.parametrize(("name", "valid"), [("valid", True), ("invalid", False)])
def test_slacks_own_example_manifests_are_told_apart(name: str, valid: bool):
    example = json.loads((SCHEMAS / "examples" / f"manifest.{name}.json").read_text())
    assert (problems(example) == []) is valid


def test_the_manifest_asks_for_the_minimal_scopes_and_the_events_the_bot_uses():
    scopes = MANIFEST["oauth_config"]["scopes"]["bot"]
    assert sorted(scopes) == sorted(
        [
            "chat:write",
            "commands",
            "files:read",
            "files:write",
            "reactions:write",
            "channels:history",
            "groups:history",
            "im:history",
            "mpim:history",
            "users:read",  # who is a workspace admin, for the App Home's settings
        ]
    )
    assert sorted(MANIFEST["settings"]["event_subscriptions"]["bot_events"]) == [
        "app_home_opened",
        "app_uninstalled",
        "message.channels",
        "message.groups",
        "message.im",
        "message.mpim",
        "tokens_revoked",
    ]


def test_the_manifest_has_the_home_tab_and_the_install_redirect():
    assert MANIFEST["features"]["app_home"]["home_tab_enabled"] is True
    assert MANIFEST["features"]["app_home"]["messages_tab_enabled"] is True  # DMs with images
    (redirect,) = MANIFEST["oauth_config"]["redirect_urls"]
    assert urlsplit(redirect).path == REDIRECT_PATH


def test_the_manifest_declares_the_bot_the_command_the_shortcut_and_interactivity():
    assert MANIFEST["display_information"]["name"]
    assert MANIFEST["display_information"]["description"]
    assert MANIFEST["features"]["bot_user"]["display_name"]
    (command,) = MANIFEST["features"]["slash_commands"]
    assert command["command"] == "/detect"
    assert "IMAGE_URL" in command["usage_hint"] and "help" in command["usage_hint"]
    (shortcut,) = MANIFEST["features"]["shortcuts"]
    assert (shortcut["name"], shortcut["type"]) == ("Detect objects", "message")
    assert MANIFEST["settings"]["interactivity"]["is_enabled"] is True


def test_every_request_url_is_the_bots_one_path_on_a_placeholder_host():
    urls = [
        MANIFEST["settings"]["event_subscriptions"]["request_url"],
        MANIFEST["settings"]["interactivity"]["request_url"],
        *(command["url"] for command in MANIFEST["features"]["slash_commands"]),
    ]
    assert len(urls) == 3
    for url in urls:
        parts = urlsplit(url)
        assert (parts.scheme, parts.path) == ("https", SLACK_PATH)
        assert parts.hostname is not None and parts.hostname.endswith(".example.com")  # RFC 2606


# -- every subscription has a listener ------------------------------------------------------------


@pytest.fixture(scope="module")
def bot() -> Iterator[Bot]:
    with SlackEmulator() as slack, running_bot(slack) as running:
        yield running


def post_event(bot: Bot, name: str) -> requests.Response:
    """An Events API delivery of the bot event `name` ("message.im", "app_mention", ...)."""
    envelope = load_payload("socket_mode_events_api_message_envelope.json")["payload"]
    envelope.update(team_id=TEAM_ID, event_id=f"Ev{uuid.uuid4().hex[:10].upper()}")
    envelope["authorizations"][0].update(team_id=TEAM_ID, user_id=BOT_USER_ID)
    event = envelope["event"]
    event_type, _, where = name.partition(".")
    event.update(type=event_type, user=USER, team=TEAM_ID, text="hello")
    if where:
        channel_type = CHANNEL_TYPES[where]
        event.update(channel_type=channel_type, channel=CHANNEL_IDS[channel_type])
    return bot.post_event(envelope)


def post_command(bot: Bot, command: str) -> requests.Response:
    body = slash_command_body("help", channel=CHANNEL, user=USER, command=command)
    return post_signed(bot.url, body, "application/x-www-form-urlencoded", SIGNING_SECRET)


def post_message_shortcut(bot: Bot, callback_id: str) -> requests.Response:
    message = bot.slack.add_message(CHANNEL, "a message", user=USER)
    return bot.interact(
        message_shortcut_payload(message, CHANNEL, user=USER, callback_id=callback_id)
    )


SUBSCRIPTIONS = [
    *(("event", name) for name in MANIFEST["settings"]["event_subscriptions"]["bot_events"]),
    *(("command", c["command"]) for c in MANIFEST["features"]["slash_commands"]),
    *(("message shortcut", s["callback_id"]) for s in MANIFEST["features"]["shortcuts"]),
]
POSTERS = {"event": post_event, "command": post_command, "message shortcut": post_message_shortcut}


def test_every_shortcut_is_a_message_shortcut():
    """The probe below sends message shortcuts; a global one would need another payload."""
    assert {s["type"] for s in MANIFEST["features"]["shortcuts"]} == {"message"}


@pytest.mark.parametrize(("kind", "name"), SUBSCRIPTIONS, ids=[n for _, n in SUBSCRIPTIONS])
def test_the_bot_has_a_listener_for_everything_the_manifest_subscribes(
    bot: Bot, kind: str, name: str
):
    assert POSTERS[kind](bot, name).status_code == 200


@pytest.mark.parametrize(
    ("kind", "name"),
    [("event", "reaction_added"), ("command", "/undetect"), ("message shortcut", "other")],
)
def test_a_request_no_listener_takes_is_answered_404(bot: Bot, kind: str, name: str):
    """Proof that the probe above can fail: Bolt's answer when nothing listens."""
    assert POSTERS[kind](bot, name).status_code == 404
