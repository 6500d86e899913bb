"""Installing the app in a workspace: Bolt's OAuth flow, with the bot's scopes and its own pages.

`GET /slack/install` shows Bolt's "Add to Slack" page; Slack sends the installer back to
`GET /slack/oauth_redirect`, where Bolt checks the state (in its store and the browser's cookie),
exchanges the code (`oauth.v2.access`) and saves the installation. Every way that can fail (a
denied install, a forged, replayed or expired state, a refused code, the database down) gets a
page that says what happened and what to do, with a 4xx status (503 for the database): never a
traceback, never a 500.
"""

from __future__ import annotations

import html
import logging

from slack_bolt import BoltResponse
from slack_bolt.oauth.callback_options import CallbackOptions, FailureArgs, SuccessArgs
from slack_bolt.oauth.oauth_settings import OAuthSettings

from bot.config import Settings
from bot.slack.manifest import bot_scopes
from bot.workspaces.installations import ROTATE_BEFORE_MINUTES, Installations

logger = logging.getLogger(__name__)

INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"

_FAILURES = {
    "access_denied": (
        200,
        "The installation was cancelled",
        "Nothing was installed. To add the app, start again from the Add to Slack page.",
    ),
    # Bolt checks the state against its store and the browser's cookie: a forged, replayed or
    # expired link, or one finished in another browser, fails one check or the other.
    **dict.fromkeys(
        ("invalid_browser", "invalid_state"),
        (
            400,
            "This installation link is no longer valid",
            "It has expired, was already used, or was opened in another browser. "
            "Start again from the Add to Slack page.",
        ),
    ),
    "missing_code": (
        400,
        "Slack sent no installation code",
        "Start again from the Add to Slack page.",
    ),
    "invalid_code": (
        400,
        "Slack did not complete the installation",
        "The installation code was refused. Start again from the Add to Slack page.",
    ),
    "storage_error": (
        503,
        "The installation could not be saved",
        "Slack approved it, but the app could not record it. Try again in a few minutes.",
    ),
}


def oauth_settings(settings: Settings, installations: Installations) -> OAuthSettings:
    assert settings.slack_client_id and settings.slack_client_secret
    return OAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret,
        scopes=list(bot_scopes()),
        installation_store=installations.store,
        installation_store_bot_only=True,
        state_store=installations.states,
        install_path=INSTALL_PATH,
        redirect_uri_path=REDIRECT_PATH,
        redirect_uri=settings.slack_redirect_uri,
        authorization_url=authorization_url(settings.slack_api_url),
        token_rotation_expiration_minutes=ROTATE_BEFORE_MINUTES,
        callback_options=CallbackOptions(success=_installed, failure=_failed),
    )


def authorization_url(slack_api_url: str) -> str:
    """Slack's consent page, on the host of the Web API (GovSlack's, or a test's emulator)."""
    return slack_api_url.removesuffix("/").removesuffix("/api") + "/oauth/v2/authorize"


def _installed(args: SuccessArgs) -> BoltResponse:
    team = args.installation.team_name or args.installation.team_id or "your workspace"
    logger.info("installed in workspace %s", args.installation.team_id)
    return _page(
        200,
        f"Installed in {team}",
        "Invite the bot to a channel (/invite and its name) and share a photo there; "
        "its Home tab in Slack explains the rest.",
    )


def _failed(args: FailureArgs) -> BoltResponse:
    status, title, advice = _FAILURES.get(
        args.reason,
        (400, "The installation did not complete", "Start again from the Add to Slack page."),
    )
    logger.warning("an installation failed: %s", args.reason)
    return _page(status, title, advice)


def _page(status: int, title: str, text: str) -> BoltResponse:
    body = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></body></html>"
    )
    return BoltResponse(
        status=status, body=body, headers={"Content-Type": "text/html; charset=utf-8"}
    )
