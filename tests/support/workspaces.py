"""The bot for many workspaces, and installs through Slack's real OAuth redirect.

The bot runs with SLACK_CLIENT_ID/SECRET and DATABASE_URL against the Slack emulator, which has
several workspaces, each with its own bot token. Installs go through the bot's install page, the
emulator's consent screen and the bot's redirect, as a browser would.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests

from tests.support.slack_emulator import Call, SlackEmulator, Workspace
from tests.support.slackbot import Bot, running_bot, shared_photo, wait_for_reply


def many_workspaces(slack: SlackEmulator, database: str, **env: str) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": "",  # no single workspace's token
        "SLACK_CLIENT_ID": slack.client_id,
        "SLACK_CLIENT_SECRET": slack.client_secret,
        "DATABASE_URL": database,
        **env,
    }


@contextmanager
def running_for_many_workspaces(slack: SlackEmulator, database: str) -> Iterator[Bot]:
    """The bot with its installations in `database`, where Slack's OAuth redirect leads."""
    with running_bot(slack, **many_workspaces(slack, database)) as bot:
        # The Redirect URL configured for the app: the bot's, now that it listens.
        slack.redirect_uri = bot.base_url + "/slack/oauth_redirect"
        yield bot


def workspace(slack: SlackEmulator, team_id: str, channel: str) -> Workspace:
    """A workspace the app is not installed in yet, with a channel."""
    added = slack.add_workspace(team_id, installed=False)
    slack.add_channel(channel, team=team_id)
    return added


class Browser:
    """What a browser does across the install: it keeps the install page's cookie (Bolt's state,
    set `Secure`, which a client over plain http would otherwise not send back)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.cookie = ""

    def add_to_slack_link(self) -> str:
        page = requests.get(f"{self.base}/slack/install", timeout=10)
        assert page.status_code == 200 and "Add to Slack" in page.text
        self.cookie = page.headers["Set-Cookie"].split(";", 1)[0]
        (authorize,) = re.findall(r'href="([^"]*oauth/v2/authorize[^"]*)"', page.text)
        return html.unescape(authorize)

    def consent(self, authorize: str) -> str:
        """Slack's consent screen, answered: where it sends the browser back to."""
        consented = requests.get(authorize, allow_redirects=False, timeout=10)
        assert consented.status_code == 302
        return str(consented.headers["Location"])

    def back_to_the_bot(self, redirect: str) -> requests.Response:
        return requests.get(redirect, headers={"Cookie": self.cookie}, timeout=10)


def install(base: str, slack: SlackEmulator, team: str, **consent: Any) -> requests.Response:
    """Open the install page of the bot at `base`, follow its Add to Slack link to Slack's consent
    screen, where `team`'s user answers, and back to the bot's redirect; the last page."""
    browser = Browser(base)
    authorize = browser.add_to_slack_link()
    slack.next_install(team=team, **consent)
    return browser.back_to_the_bot(browser.consent(authorize))


def upload(bot: Bot, slack: SlackEmulator, team: Workspace, channel: str) -> dict[str, Any]:
    """A photo shared in `channel` of `team`, its event sent to the bot; the message."""
    message, envelope = shared_photo(slack, channel=channel, team=team)
    assert bot.post_event(envelope).status_code == 200
    return message


def reply_to(slack: SlackEmulator, ts: str) -> Call:
    """The bot's (one) reply in the thread of `ts`, once posted."""
    wait_for_reply(slack, ts)
    (reply,) = slack.replies(ts)
    return reply
