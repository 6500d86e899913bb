"""What `python -m bot run --http` writes to its log at LOG_LEVEL=DEBUG, where every library logs
what it sends and receives: never a token or a secret, whichever logger wrote it."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.cluster import Cluster
from tests.support.slack_emulator import SlackEmulator
from tests.support.slackbot import SIGNING_SECRET, shared_photo
from tests.support.workspaces import install, many_workspaces, workspace


def test_debug_logs_of_an_install_and_an_upload_name_no_token_or_secret(
    slack: SlackEmulator, database: str, tmp_path: Path
):
    slack.token_rotation = True  # installs then carry a refresh token too
    env = {
        **many_workspaces(slack, database),
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "SLACK_TOKEN_ROTATION": "true",
        "LOG_LEVEL": "DEBUG",
    }
    cluster = Cluster(tmp_path, env)
    try:
        web = cluster.start_web("web")
        assert web.url
        slack.redirect_uri = f"{web.url}/slack/oauth_redirect"
        acme = workspace(slack, "T222", "C222")
        assert "Installed in" in install(web.url, slack, "T222").text
        _, envelope = shared_photo(slack, channel="C222", team=acme)
        assert cluster.post("web", envelope).status_code == 200
        slack.wait_for("chat.postMessage", timeout=20)
        logged = web.logged()
    finally:
        cluster.stop()

    # DEBUG did log the exchange of the code for the tokens, and the calls made with them.
    assert "oauth.v2.access" in logged and "chat.postMessage" in logged
    secrets = {
        "bot token": acme.bot_token,
        "client secret": slack.client_secret,
        "signing secret": SIGNING_SECRET,
    }
    for name, secret in secrets.items():
        assert secret and secret not in logged, name
    # The tokens are redacted where they were logged, not left out.
    assert '"access_token": "[redacted]"' in logged and '"refresh_token": "[redacted]"' in logged
    assert not re.findall(r"\b(?:xox[a-z]|xapp)-(?!\[redacted\])\S{0,20}", logged)
