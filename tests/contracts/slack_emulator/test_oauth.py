"""The emulator's OAuth v2 install works with Bolt's own OAuth flow: the authorize redirect,
Slack's error codes, the configured redirect URL, token rotation and uninstalls."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests
from slack_bolt import BoltRequest
from slack_bolt.oauth import OAuthFlow
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackTokenRotationError
from slack_sdk.oauth.installation_store import FileInstallationStore
from slack_sdk.oauth.state_store import FileOAuthStateStore
from slack_sdk.oauth.token_rotation import TokenRotator

from tests.support.slack_emulator import AUTHORIZE_PATH, SlackEmulator
from tests.support.slack_webapi import bot_client, shape, unknown_keys

REDIRECT = "http://127.0.0.1:9/slack/oauth_redirect"


def oauth_flow(slack: SlackEmulator, tmp_path: Path, **settings: Any) -> OAuthFlow:
    """Bolt's own OAuth flow pointed at the emulator, as the product will build it."""
    return OAuthFlow(
        client=WebClient(base_url=slack.api_url),
        settings=OAuthSettings(
            client_id=slack.client_id,
            client_secret=slack.client_secret,
            scopes=["chat:write", "files:read"],
            redirect_uri=REDIRECT,
            authorization_url=slack.base_url + AUTHORIZE_PATH,
            installation_store=FileInstallationStore(base_dir=str(tmp_path / "installations")),
            state_store=FileOAuthStateStore(expiration_seconds=600, base_dir=str(tmp_path / "s")),
            **settings,
        ),
    )


def consent(url: str) -> dict[str, str]:
    """Open the authorize URL as a browser would; the redirect's query."""
    answer = requests.get(url, allow_redirects=False, timeout=5)
    assert answer.status_code == 302, answer.text
    location = answer.headers["Location"]
    assert location.startswith(REDIRECT + "?")
    return dict(parse_qsl(urlsplit(location).query))


def test_install_through_the_authorize_redirect_with_bolts_oauth_flow(
    slack: SlackEmulator, tmp_path: Path
) -> None:
    other = slack.add_workspace("T3330", name="Third", installed=False)
    assert other.bot_token is None
    flow = oauth_flow(slack, tmp_path)
    slack.next_install(team="T3330", user="U3330")
    redirected = consent(flow.build_authorize_url("state-1", BoltRequest(body="")))
    assert redirected["state"] == "state-1" and redirected["code"]

    installation = flow.run_installation(redirected["code"])
    assert installation is not None
    assert installation.team_id == "T3330" and installation.team_name == "Third"
    assert installation.bot_user_id == other.bot_user_id and installation.bot_id == other.bot_id
    assert installation.user_id == "U3330" and installation.bot_scopes == [
        "chat:write",
        "files:read",
    ]
    assert installation.bot_token == other.bot_token
    assert installation.bot_token and installation.bot_token.startswith("xoxb-test-T3330-")
    exchange = slack.calls_to("oauth.v2.access")[-1]
    assert exchange.headers["Authorization"].startswith("Basic ")  # slack_sdk's client credentials
    assert exchange.response == {
        "ok": True,
        "app_id": slack.app_id,
        "authed_user": {"id": "U3330"},
        "access_token": installation.bot_token,
        "token_type": "bot",
        "scope": "chat:write,files:read",
        "bot_user_id": other.bot_user_id,
        "team": {"id": "T3330", "name": "Third"},
        "enterprise": None,
        "is_enterprise_install": False,
    }
    assert unknown_keys(exchange.response, shape("oauth.v2.access")) == []
    assert bot_client(slack, installation.bot_token).auth_test()["team_id"] == "T3330"

    # A code is good once; without rotation a reinstall gets the same bot token back, as on Slack.
    assert flow.run_installation(redirected["code"]) is None
    assert slack.calls_to("oauth.v2.access")[-1].response["error"] == "invalid_code"
    slack.next_install(team="T3330", user="U3330")
    again = flow.run_installation(
        consent(flow.build_authorize_url("s2", BoltRequest(body="")))["code"]
    )
    assert again is not None and again.bot_token == installation.bot_token


def test_oauth_refusals_use_slacks_error_codes(slack: SlackEmulator) -> None:
    client = WebClient(base_url=slack.api_url)
    url = f"{slack.base_url}{AUTHORIZE_PATH}?client_id={slack.client_id}&scope=chat:write"

    def code(**extra: str) -> str:
        return consent(f"{url}&redirect_uri={REDIRECT}&" + urlencode(extra))["code"]

    def refused(**args: Any) -> str:
        with pytest.raises(SlackApiError) as error:
            client.oauth_v2_access(
                **{"client_id": slack.client_id, "client_secret": slack.client_secret, **args}
            )
        return str(error.value.response["error"])

    fresh = code()
    assert refused(code=fresh, client_secret="wrong") == "bad_client_secret"
    assert refused(code=fresh, client_id="9.9") == "invalid_client_id"
    assert refused(code=fresh, redirect_uri="http://127.0.0.1:9/elsewhere") == "bad_redirect_uri"
    assert refused(code=fresh, grant_type="password") == "invalid_grant_type"
    assert refused(code="1.2.forged", redirect_uri=REDIRECT) == "invalid_code"
    slack.advance_clock(601)  # codes live ten minutes
    assert refused(code=fresh, redirect_uri=REDIRECT) == "invalid_code"
    # The client credentials may also come as form fields.
    by_form = requests.post(
        slack.api_url + "oauth.v2.access",
        data={"client_id": slack.client_id, "client_secret": slack.client_secret, "code": code(),
              "redirect_uri": REDIRECT},
        timeout=5,
    ).json()  # fmt: skip
    assert by_form["ok"] is True and by_form["team"]["id"] == slack.team_id

    slack.next_install(approve=False)
    denied = consent(f"{url}&redirect_uri={REDIRECT}&state=s3")
    assert denied == {"error": "access_denied", "state": "s3"}
    bad_client = requests.get(f"{slack.base_url}{AUTHORIZE_PATH}?client_id=9.9", timeout=5)
    assert bad_client.status_code == 400 and "client_id" in bad_client.text


def test_the_configured_redirect_url_is_enforced_and_used_when_none_is_given() -> None:
    with SlackEmulator(redirect_uri=REDIRECT) as slack:
        url = f"{slack.base_url}{AUTHORIZE_PATH}?client_id={slack.client_id}&scope=chat:write"
        assert consent(url)["code"]  # Slack sends it to the app's configured Redirect URL
        elsewhere = requests.get(url + "&redirect_uri=http://evil.example/cb", timeout=5)
        assert elsewhere.status_code == 400 and "redirect_uri" in elsewhere.text


def test_token_rotation_refreshes_once_and_spends_the_refresh_token(tmp_path: Path) -> None:
    with SlackEmulator(
        token_rotation=True, token_lifetime=3600, clock=lambda: 1_800_000_000.0
    ) as slack:
        flow = oauth_flow(slack, tmp_path, user_scopes=["identify"])
        redirected = consent(flow.build_authorize_url("s", BoltRequest(body="")))
        installation = flow.run_installation(redirected["code"])
        assert installation is not None and installation.bot_token and installation.user_token
        assert installation.bot_token.startswith("xoxe.xoxb-1-test-")
        assert installation.user_token.startswith("xoxe.xoxp-1-test-")
        assert installation.bot_refresh_token and installation.bot_refresh_token.startswith(
            "xoxe-1-"
        )
        answer = slack.calls_to("oauth.v2.access")[-1].response
        assert answer["expires_in"] == answer["authed_user"]["expires_in"] == 3600
        assert installation.bot_token_expires_at  # slack_sdk dates it from expires_in
        assert unknown_keys(answer, shape("oauth.v2.access")) == []
        old = bot_client(slack, installation.bot_token)
        assert old.auth_test()["ok"] is True
        with pytest.raises(SlackApiError) as user_token:
            bot_client(slack, installation.user_token).chat_postMessage(channel="C1", text="x")
        assert user_token.value.response["error"] == "not_allowed_token_type"

        slack.advance_clock(3600)
        with pytest.raises(SlackApiError) as expired:
            old.auth_test()
        assert expired.value.response["error"] == "token_expired"
        rotator = TokenRotator(
            client_id=slack.client_id,
            client_secret=slack.client_secret,
            client=WebClient(base_url=slack.api_url),
        )
        rotated = rotator.perform_token_rotation(installation=installation)
        assert rotated is not None and rotated.bot_token != installation.bot_token
        assert rotated.bot_refresh_token != installation.bot_refresh_token
        assert rotated.user_token != installation.user_token
        assert bot_client(slack, rotated.bot_token).auth_test()["team_id"] == slack.team_id
        assert slack.default_workspace.bot_token == rotated.bot_token
        assert [(r.token_type, r.refresh_token) for r in slack.refreshes] == [
            ("bot", installation.bot_refresh_token),
            ("user", installation.user_refresh_token),
        ]
        refresh = slack.calls_to("oauth.v2.access")[-2].response
        assert unknown_keys(refresh, shape("oauth.v2.access")) == []
        with pytest.raises(SlackTokenRotationError) as spent:
            rotator.perform_bot_token_rotation(
                bot=installation.to_bot(), minutes_before_expiration=999
            )
        assert spent.value.api_error.response["error"] == "invalid_refresh_token"
        assert len(slack.refreshes) == 2


def test_uninstall_revokes_every_token_of_that_workspace_only(slack: SlackEmulator) -> None:
    other = slack.add_workspace("T4440", installed=False)
    slack.token_rotation = True
    try:
        slack.next_install(team="T4440", user="U4440")
        query = f"client_id={slack.client_id}&scope=chat:write&user_scope=identify&redirect_uri={REDIRECT}"
        code = consent(f"{slack.base_url}{AUTHORIZE_PATH}?{query}")["code"]
        answer = WebClient(base_url=slack.api_url).oauth_v2_access(
            client_id=slack.client_id,
            client_secret=slack.client_secret,
            code=code,
            redirect_uri=REDIRECT,
        )
    finally:
        slack.token_rotation = False
    bot, user = answer["access_token"], answer["authed_user"]["access_token"]
    assert other.bot_token == bot
    slack.uninstall("T4440")
    assert other.bot_token is None
    for token, error in ((bot, "account_inactive"), (user, "token_revoked")):
        with pytest.raises(SlackApiError) as revoked:
            bot_client(slack, token).auth_test()
        assert revoked.value.response["error"] == error
    with pytest.raises(SlackApiError) as spent:
        WebClient(base_url=slack.api_url).oauth_v2_access(
            client_id=slack.client_id, client_secret=slack.client_secret,
            grant_type="refresh_token", refresh_token=answer["refresh_token"],
        )  # fmt: skip
    assert spent.value.response["error"] == "invalid_refresh_token"
    assert bot_client(slack, slack.bot_token).auth_test()["ok"] is True
    # Installing again issues a new token.
    slack.next_install(team="T4440")
    code = consent(
        f"{slack.base_url}{AUTHORIZE_PATH}?client_id={slack.client_id}&scope=chat:write&redirect_uri={REDIRECT}"
    )["code"]
    again = WebClient(base_url=slack.api_url).oauth_v2_access(
        client_id=slack.client_id,
        client_secret=slack.client_secret,
        code=code,
        redirect_uri=REDIRECT,
    )
    assert again["access_token"] not in (bot, None) and other.bot_token == again["access_token"]
