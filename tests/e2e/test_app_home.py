"""The App Home end to end: the tab as each user sees it, and a workspace's settings edited there.

The bot serves two workspaces installed through the OAuth flow, with their settings in a real
PostgreSQL; users open the Home tab (app_home_opened), click "Edit settings" (block_actions from
the tab), and submit the modal (view_submission), as Slack sends them. The settings must change
the workspace's next reply, and only its admins and owners may change them.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest

from bot.blocks.home import CLASSES_BLOCK, EDIT_SETTINGS_ACTION
from tests.support.settings_modal import edited
from tests.support.slack_emulator import SlackEmulator, Workspace
from tests.support.slack_signing import (
    app_home_opened_event,
    home_block_actions_payload,
    view_submission_payload,
)
from tests.support.slackbot import Bot, idle
from tests.support.workspaces import (
    install,
    reply_to,
    running_for_many_workspaces,
    upload,
    workspace,
)

ADMIN, OWNER, MEMBER = "U0ADMIN01", "U0OWNER01", "U0MEMBER1"


@pytest.fixture
def bot(slack: SlackEmulator, database: str) -> Iterator[Bot]:
    with running_for_many_workspaces(slack, database) as running:
        yield running


@pytest.fixture
def acme(bot: Bot, slack: SlackEmulator) -> Workspace:
    """A workspace that installed the app, with an admin, an owner and a member."""
    team = workspace(slack, "T222", "C222")
    assert "Installed in" in install(bot.base_url, slack, team.team_id).text
    slack.add_user(ADMIN, team=team.team_id, is_admin=True)
    slack.add_user(OWNER, team=team.team_id, is_owner=True)
    slack.add_user(MEMBER, team=team.team_id)
    return team


def open_home(bot: Bot, slack: SlackEmulator, team: Workspace, user: str) -> dict[str, Any]:
    """The user opens the app's Home tab; the view the bot published for them."""
    published = len(slack.calls_to("views.publish"))
    event = app_home_opened_event(
        user,
        view=slack.home_view(user, team=team.team_id),
        team_id=team.team_id,
        bot_user_id=team.bot_user_id,
    )
    assert bot.post_event(event).status_code == 200
    slack.wait_for("views.publish", published + 1, timeout=10)
    view = slack.home_view(user, team=team.team_id)
    assert view is not None
    return view


def edit_button(view: dict[str, Any]) -> dict[str, Any] | None:
    return next(
        (
            element
            for block in view["blocks"]
            if block["type"] == "actions"
            for element in block["elements"]
            if element["action_id"] == EDIT_SETTINGS_ACTION
        ),
        None,
    )


def open_settings(bot: Bot, slack: SlackEmulator, team: Workspace, user: str) -> dict[str, Any]:
    """The user clicks "Edit settings" in their Home tab; the modal Slack opened for them."""
    home = open_home(bot, slack, team, user)
    button = edit_button(home)
    assert button is not None
    opened = len(slack.calls_to("views.open"))
    click = {**button, "block_id": "edit", "action_ts": f"{time.time():.6f}"}
    payload = home_block_actions_payload([click], view=home, user=user, team_id=team.team_id)
    assert bot.interact(payload).status_code == 200
    call = slack.wait_for("views.open", opened + 1, timeout=10)[-1]
    assert call.response["ok"], call.response
    return slack.view(call.response["view"]["id"])


def submit(
    bot: Bot, team: Workspace, user: str, modal: dict[str, Any], **changes: Any
) -> dict[str, Any] | None:
    """The user saves the modal with `changes` (see tests/support/settings_modal.py `edited`); Slack's
    answer to the submission, None when it is empty (the modal closes)."""
    payload = view_submission_payload(
        modal, edited(modal, **changes), user=user, team_id=team.team_id
    )
    answer = bot.interact(payload)
    assert answer.status_code == 200
    return json.loads(answer.content) if answer.content else None


def test_admins_and_owners_get_an_edit_button_and_members_the_settings_read_only(
    bot: Bot, slack: SlackEmulator, acme: Workspace
):
    for user in (ADMIN, OWNER):
        assert edit_button(open_home(bot, slack, acme, user)) is not None
    member = open_home(bot, slack, acme, MEMBER)
    assert edit_button(member) is None
    assert "only workspace admins and owners" in json.dumps(member).lower()
    # Each publish asked Slack who the user is, with the workspace's own token.
    assert {c.team for c in slack.calls_to("users.info")} == {acme.team_id}


def test_settings_an_admin_saves_change_the_next_reply_in_that_workspace_only(
    bot: Bot, slack: SlackEmulator, acme: Workspace
):
    globex = workspace(slack, "T333", "C333")
    install(bot.base_url, slack, globex.team_id)
    modal = open_settings(bot, slack, acme, ADMIN)

    published = len(slack.calls_to("views.publish"))
    assert submit(bot, acme, ADMIN, modal, classes="cat, dog", annotate="off") is None
    slack.wait_for("views.publish", published + 1, timeout=10)  # the tab shows the new settings
    idle(bot)

    ours = reply_to(slack, upload(bot, slack, acme, "C222")["ts"])
    theirs = reply_to(slack, upload(bot, slack, globex, "C333")["ts"])
    idle(bot)
    assert ours.args["text"].startswith("chelsea.png: cat ")
    assert ours.args["text"].endswith(" · no dog found")
    assert theirs.args["text"].endswith(" · no person, car, bicycle, dog found")  # the defaults
    # Annotated images: off in acme, still on in globex.
    assert [u.channel_id for u in slack.uploads] == ["C333"]


def test_a_members_submission_is_refused_and_changes_nothing(
    bot: Bot, slack: SlackEmulator, acme: Workspace, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.WARNING)
    modal = open_settings(bot, slack, acme, ADMIN)  # opened while they could...

    assert submit(bot, acme, MEMBER, modal, classes="cat") is None  # ...submitted by a member
    idle(bot)

    reply = reply_to(slack, upload(bot, slack, acme, "C222")["ts"])
    assert reply.args["text"].endswith(" · no person, car, bicycle, dog found")
    assert f"refused a settings change by {MEMBER} in {acme.team_id}" in caplog.text
    republished = slack.home_view(MEMBER, team=acme.team_id)  # the tab, without the button
    assert republished is not None and edit_button(republished) is None


def test_settings_that_will_not_do_are_shown_in_the_modal(
    bot: Bot, slack: SlackEmulator, acme: Workspace
):
    modal = open_settings(bot, slack, acme, ADMIN)

    answer = submit(bot, acme, ADMIN, modal, classes="cat, unicorn")

    assert answer is not None and answer["response_action"] == "errors"
    assert answer["errors"][CLASSES_BLOCK].startswith("unicorn is not a class I know")
