"""`/detect` links and fair shares, end to end: one workspace's `/detect` with as many links as a
command may carry, all to a server that never answers, must not delay another workspace's upload.

The bot serves two workspaces (installed through OAuth, tokens in PostgreSQL) with the embedded
API, which may fetch from the test's loopback server (LOCAL_API_ALLOW_PRIVATE_HOSTS).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest

from bot.command_text import MAX_LINKS
from bot.localapi.work import LINK_THREADS
from tests.support.imagehost import Stall
from tests.support.slack_emulator import SlackEmulator
from tests.support.slack_signing import post_signed, slash_command_fields
from tests.support.slackbot import CHANNEL, SIGNING_SECRET, USER, Bot, idle, running_bot
from tests.support.waiting import until
from tests.support.workspaces import install, many_workspaces, reply_to, upload, workspace


@pytest.fixture
def bot(slack: SlackEmulator, database: str) -> Iterator[Bot]:
    env = many_workspaces(slack, database, LOCAL_API_ALLOW_PRIVATE_HOSTS="127.0.0.1")
    with running_bot(slack, **env) as running:
        slack.redirect_uri = running.base_url + "/slack/oauth_redirect"
        yield running


def test_a_detect_with_links_to_a_stalled_server_does_not_delay_another_workspace(
    bot: Bot, slack: SlackEmulator
):
    acme = workspace(slack, "T222", "C222")
    for team in (slack.team_id, acme.team_id):
        assert "Installed in" in install(bot.base_url, slack, team).text

    with Stall() as stall:
        links = " ".join(f"{stall.url}/{n}.png" for n in range(MAX_LINKS))
        # From the default workspace, outside Enterprise Grid as the emulator installs it.
        fields = slash_command_fields(f"{links} cat", channel=CHANNEL, user=USER)
        del fields["enterprise_id"], fields["enterprise_name"]
        form = "application/x-www-form-urlencoded"
        assert post_signed(bot.url, urlencode(fields).encode(), form, SIGNING_SECRET).ok
        assert until(lambda: stall.accepted == LINK_THREADS, timeout=20)

        started = time.monotonic()
        message = upload(bot, slack, acme, "C222")
        reply = reply_to(slack, message["ts"])
        took = time.monotonic() - started
        waiting = stall.accepted

    assert reply.team == acme.team_id
    assert reply.args["text"].startswith("chelsea.png: cat ")
    # Before, the links held the embedded API's detector threads for 10 s each (LOCAL_API_WORKERS
    # 2: 50 s), and the upload waited past the bot's DETECT_TIMEOUT (20 s here). The bound leaves
    # room for a loaded machine.
    assert took < 10
    assert waiting == LINK_THREADS  # the links were still waiting when the upload was answered
    idle(bot)  # the stall closed: the links fail at once and /detect is answered
