"""The emulator's users.info and views (the Home tab, modals) behave like Slack's."""

from __future__ import annotations

import json

import pytest
import requests
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from tests.support.slack_emulator import SlackEmulator
from tests.support.slack_webapi import HOME, MODAL, bot_client, shape, unknown_keys


def test_users_info_answers_per_workspace(slack: SlackEmulator) -> None:
    other = slack.add_workspace("T5550")
    admin = slack.add_user("U5551", team="T5550", name="ada", is_admin=True)
    assert unknown_keys(admin, shape("users.info")["user"]) == []
    slack.add_user("U5552", team="T5550", is_owner=True, is_primary_owner=True)
    slack.add_user("U5553", team="T5550")
    theirs = bot_client(slack, other.bot_token)
    found = theirs.users_info(user="U5551")["user"]
    assert (found["id"], found["team_id"], found["name"]) == ("U5551", "T5550", "ada")
    assert (found["is_admin"], found["is_owner"], found["is_bot"]) == (True, False, False)
    owner = theirs.users_info(user="U5552")["user"]
    assert owner["is_owner"] and owner["is_primary_owner"] and not owner["is_admin"]
    member = theirs.users_info(user="U5553")["user"]
    assert not (member["is_admin"] or member["is_owner"] or member["is_primary_owner"])
    for client, user in ((theirs, "U0NOBODY"), (bot_client(slack, slack.bot_token), "U5551")):
        with pytest.raises(SlackApiError) as missing:
            client.users_info(user=user)
        assert missing.value.response["error"] == "user_not_found"


def test_views_publish_keeps_each_users_home_tab(client: WebClient, slack: SlackEmulator) -> None:
    published = client.views_publish(user_id="U6661", view=HOME)["view"]
    assert unknown_keys(published, shape("views.publish")["view"]) == []
    assert published["type"] == "home" and published["team_id"] == slack.team_id
    assert published["blocks"][0]["block_id"] and published["blocks"][1]["block_id"] == "settings"
    assert slack.home_view("U6661") == published
    assert slack.home_view("U6662") is None
    # As a form field the view is a JSON string; a user's Home keeps its view id.
    again = requests.post(
        slack.api_url + "views.publish",
        data={"token": slack.bot_token, "user_id": "U6661", "view": json.dumps(HOME),
              "hash": published["hash"]},
        timeout=5,
    ).json()  # fmt: skip
    assert again["ok"] is True and again["view"]["id"] == published["id"]
    assert again["view"]["hash"] != published["hash"]
    with pytest.raises(SlackApiError) as stale:
        client.views_publish(user_id="U6661", view=HOME, hash=published["hash"])
    assert stale.value.response["error"] == "hash_conflict"
    other = slack.add_workspace("T6660")
    bot_client(slack, other.bot_token).views_publish(user_id="U6661", view=HOME)
    assert slack.home_view("U6661", team="T6660") != slack.home_view("U6661")

    too_many = {**HOME, "blocks": [HOME["blocks"][0]] * 101}
    for view, message in (
        (
            too_many,
            "[ERROR] view: views must contain between 1 and 100 blocks [json-pointer:/view]",
        ),
        (MODAL, "[ERROR] must be a valid enum value [json-pointer:/view/type]"),
    ):
        with pytest.raises(SlackApiError) as invalid:
            client.views_publish(user_id="U6661", view=view)
        assert invalid.value.response["error"] == "invalid_arguments"
        assert invalid.value.response["response_metadata"]["messages"] == [message]
    for view_arg, message in (
        ('{"type": "home"}', "[ERROR] missing required field: blocks [json-pointer:/view]"),
        ("{not json", "[ERROR] must provide an object [json-pointer:/view]"),
    ):
        form = {"token": slack.bot_token, "user_id": "U6661", "view": view_arg}
        answer = requests.post(slack.api_url + "views.publish", data=form, timeout=5).json()
        assert answer["response_metadata"]["messages"] == [message]


def test_views_open_takes_each_trigger_once_and_views_update_replaces(
    client: WebClient, slack: SlackEmulator
) -> None:
    opened = client.views_open(trigger_id="12345.98765.abcd2358fdea", view=MODAL)["view"]
    assert unknown_keys(opened, shape("views.open")["view"]) == []
    assert opened["title"] == MODAL["title"] and opened["submit"] == MODAL["submit"]
    assert opened["state"] == {"values": {}} and slack.view(opened["id"]) == opened
    for trigger, error in (
        ("12345.98765.abcd2358fdea", "exchanged_trigger_id"),
        ("nope", "invalid_trigger_id"),
    ):
        with pytest.raises(SlackApiError) as refused:
            client.views_open(trigger_id=trigger, view=MODAL)
        assert refused.value.response["error"] == error
    long_title = {**MODAL, "title": {"type": "plain_text", "text": "x" * 25}}
    no_title = {k: v for k, v in MODAL.items() if k != "title"}
    mrkdwn_submit = {**MODAL, "submit": {"type": "mrkdwn", "text": "Save"}}
    for view, message in (
        (
            long_title,
            "[ERROR] view: title must be between 1 and 24 characters [json-pointer:/view]",
        ),
        (
            no_title,
            "[ERROR] view title: a plain_text text of at least 1 character [json-pointer:/view]",
        ),
        (
            mrkdwn_submit,
            "[ERROR] view submit: a plain_text text of at least 1 character [json-pointer:/view]",
        ),
    ):
        with pytest.raises(SlackApiError) as invalid:
            client.views_open(trigger_id="1.2.fresh" + str(len(message)), view=view)
        assert invalid.value.response["response_metadata"]["messages"] == [message]

    errors = {**MODAL, "title": {"type": "plain_text", "text": "Try again"}}
    updated = client.views_update(view_id=opened["id"], view=errors)["view"]
    assert unknown_keys(updated, shape("views.update")["view"]) == []
    assert (
        updated["id"] == opened["id"] and slack.view(opened["id"])["title"]["text"] == "Try again"
    )
    by_external = client.views_open(trigger_id="2.3.four", view={**MODAL, "external_id": "ext-1"})[
        "view"
    ]
    client.views_update(
        external_id="ext-1", view={**MODAL, "external_id": "ext-1", "callback_id": "b"}
    )
    assert slack.view(by_external["id"])["callback_id"] == "b"
    other = slack.add_workspace("T7770")
    with pytest.raises(SlackApiError) as not_theirs:
        bot_client(slack, other.bot_token).views_update(view_id=opened["id"], view=MODAL)
    assert not_theirs.value.response["error"] == "not_found"
