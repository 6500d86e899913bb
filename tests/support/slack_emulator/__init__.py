"""A Slack Web API emulator over real HTTP on 127.0.0.1, for tests.

The app under test reaches it through ``SLACK_API_URL = emulator.api_url`` (slack_sdk's
``WebClient(base_url=...)``). It behaves like Slack where the bot can tell. It is one class,
:class:`SlackEmulator`, composed of one class per area, each in its own module:

- core.py: workspaces, the tokens issued in them (``not_authed``, ``invalid_auth``,
  ``not_allowed_token_type``, ``token_expired``...), channels, every call recorded
  (:attr:`~core.EmulatorCore.calls`), the emulator's clock
  (:meth:`~core.EmulatorCore.advance_clock`, so no test sleeps), and each method's required
  arguments checked against ``contracts/slack/specs/methods/<method>.json`` (``invalid_arguments``
  with ``response_metadata.messages``, as Slack answers today); server.py starts the servers and
  parses the requests (the token from the ``Authorization`` header or a ``token`` form field, never
  from a JSON body); faults.py: faults injected per method (statuses, errors, slow answers);
- ratelimits.py: Slack's published rate limits per workspace and method (tiers from the specs,
  chat.postMessage per channel, history for apps outside the Marketplace), answered 429 with
  ``Retry-After`` once a test calls :meth:`~ratelimits.RateLimits.enforce_rate_limits`;
- chat.py: messages, reactions and conversations, in Slack's response shapes (keys from
  ``contracts/slack/payloads/java-slack-sdk-shapes``), with message metadata;
- files.py: files served like files.slack.com (the bytes with the bot token of the file's workspace,
  else Slack's login page), real thumbnails and ``files.info``; uploads.py: ``files_upload_v2``,
  each image's alt text checked against Slack's limit and kept on the file;
  listing.py: ``files.list``;
- oauth.py: the OAuth v2 install (``/oauth/v2/authorize`` then ``oauth.v2.access``), token rotation,
  uninstalls;
- socket_mode.py: ``apps.connections.open`` and a local WebSocket that speaks Socket Mode;
- views.py: the Home tab and modals (``views.*``, checked with tests/support/blockkit.py) and
  ``users.info``.

Several workspaces (:meth:`SlackEmulator.add_workspace`) each have their bot token, channels, users
and files; a token of one workspace gets ``channel_not_found`` on another's channels,
``file_not_found`` for its files and the login page for its file URLs.
"""

from __future__ import annotations

from tests.support.slack_emulator.core import (
    APP_ID,
    BOT_ID,
    BOT_USER_ID,
    CONTRACTS,
    DEFAULT_USER,
    PAYLOADS,
    TEAM_ID,
    Call,
    Workspace,
    load_payload,
)
from tests.support.slack_emulator.files import FILE_DOWNLOAD, FileRequest
from tests.support.slack_emulator.listing import FileLists
from tests.support.slack_emulator.oauth import AUTHORIZE_PATH, OAuth, Refresh
from tests.support.slack_emulator.ratelimits import RateLimits
from tests.support.slack_emulator.socket_mode import SocketMode
from tests.support.slack_emulator.uploads import FILE_UPLOAD, Upload, Uploads
from tests.support.slack_emulator.views import Views

__all__ = [
    "APP_ID",
    "AUTHORIZE_PATH",
    "BOT_ID",
    "BOT_USER_ID",
    "CONTRACTS",
    "DEFAULT_USER",
    "FILE_DOWNLOAD",
    "FILE_UPLOAD",
    "PAYLOADS",
    "TEAM_ID",
    "Call",
    "FileRequest",
    "Refresh",
    "SlackEmulator",
    "Upload",
    "Workspace",
    "load_payload",
]


class SlackEmulator(RateLimits, FileLists, Uploads, OAuth, SocketMode, Views):
    """Slack's Web API, file hosts and Socket Mode endpoint, on 127.0.0.1.

    Example::

        with SlackEmulator() as slack:
            client = WebClient(token=slack.bot_token, base_url=slack.api_url)
            client.chat_postMessage(channel="C111", text="hi")
            assert slack.wait_for("chat.postMessage")[0].args["text"] == "hi"

    Another workspace, installed through the OAuth flow as a browser would::

        other = slack.add_workspace("T222", installed=False)
        slack.add_channel("C222", team="T222")
        slack.next_install(team="T222", user="U222")
        # The app's install page sends the browser to slack.base_url + AUTHORIZE_PATH, which
        # answers 302 to its redirect_uri?code=...&state=...; the app's oauth.v2.access then
        # installs it: other.bot_token is the new token, refused on the default workspace's channels.
    """
