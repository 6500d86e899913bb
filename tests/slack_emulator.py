"""A Slack Web API emulator over real HTTP on 127.0.0.1, for tests.

The app under test reaches it through ``SLACK_API_URL = emulator.api_url`` (slack_sdk's
``WebClient(base_url=...)``). It behaves like Slack where the bot can tell:

- the bearer token is checked (``not_authed``, ``invalid_auth``, ``not_allowed_token_type``), taken from
  the ``Authorization`` header or a ``token`` form field, never from a JSON body (as Slack does);
- each method's required arguments are checked against ``slack_contracts/specs/methods/<method>.json``
  (``invalid_arguments`` with ``response_metadata.messages``, as Slack answers today); JSON bodies are
  read only by the methods whose spec says ``json_input_supported``, the others see no arguments;
- answers use Slack's response shapes (keys from ``slack_contracts/payloads/java-slack-sdk-shapes``);
- files are served like files.slack.com: the bytes with ``Authorization: Bearer <bot token>``, else
  ``200`` with an HTML login page; thumbnails are real resized images;
- ``files.getUploadURLExternal`` + the upload URL + ``files.completeUploadExternal`` make slack_sdk's
  ``files_upload_v2`` work end to end;
- ``apps.connections.open`` hands out a local WebSocket URL that speaks Socket Mode (``hello``, envelopes,
  acks);
- several workspaces (:meth:`SlackEmulator.add_workspace`), each with its bot token, channels, users and
  files; a token of one workspace gets ``channel_not_found`` on another's channels, ``file_not_found``
  for its files and the login page for its file URLs;
- the OAuth v2 install (``/oauth/v2/authorize`` then ``oauth.v2.access``), token rotation, uninstalls;
- the Home tab and modals (``views.publish``, ``views.open``, ``views.update``), ``users.info``, and
  message metadata.

Every Web API call is recorded (:attr:`SlackEmulator.calls`); faults can be injected per method. Token
and code expiry follow the emulator's own clock (:meth:`SlackEmulator.advance_clock`), so no test sleeps.
"""

from __future__ import annotations

import base64
import copy
import io
import json
import logging
import mimetypes
import re
import secrets
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from PIL import Image, ImageOps
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

CONTRACTS = Path(__file__).parent / "slack_contracts"
PAYLOADS = CONTRACTS / "payloads"
DEFAULT_BOT_TOKEN = "xoxb-test-not-a-real-token"
DEFAULT_APP_TOKEN = "xapp-test-not-a-real-token"
TEAM_ID = "T111"
TEAM_NAME = "Emulated Workspace"
TEAM_DOMAIN = "emulated"
APP_ID = "A111"
# Not any user of the payload files: Bolt ignores events whose user is the bot's own.
BOT_ID = "B0BOT0001"
BOT_USER_ID = "U0BOT0001"
DEFAULT_USER = "U111"
CLIENT_ID = "1111.2222"
CLIENT_SECRET = "test-client-secret-not-real"
# Slack: rotating tokens expire after 12 hours; an OAuth code after ten minutes.
TOKEN_LIFETIME = 43_200
CODE_LIFETIME = 600
AUTHORIZE_PATH = "/oauth/v2/authorize"
# Pseudo-method names for fault injection on the file endpoints.
FILE_DOWNLOAD = "file_download"
FILE_UPLOAD = "file_upload"
# Resized thumbnails carry _w/_h; the small ones are square crops without (as in the real payload).
SCALED_THUMBS = (360, 480, 720, 800, 960, 1024)
CROPPED_THUMBS = (64, 80, 160)
LOGIN_PAGE = (
    b'<!DOCTYPE html><html lang="en-US"><head><meta charset="utf-8"><title>Slack</title></head>'
    b"<body><h1>Sign in to Slack</h1><p>We suggest using the email address you use at work.</p>"
    b"</body></html>"
)
_LOG = logging.getLogger(__name__)

JsonDict = dict[str, Any]
Redirect = Literal["offhost", "same_host", "loop"]


@dataclass(frozen=True)
class Call:
    """One Web API call as the emulator received it (``token`` is not among ``args``).

    ``token`` is the token it carried (header or form field) and ``team`` the workspace that token was
    issued for, whether or not it still works (None for a token the emulator never issued).
    """

    method: str
    args: JsonDict
    headers: dict[str, str]
    status: int = 200
    response: JsonDict = field(default_factory=dict)
    token: str | None = None
    team: str | None = None


@dataclass
class Workspace:
    """A Slack workspace (team). The emulator keeps ``bot_token`` current: the token the latest install
    or refresh issued, None while the app is not installed there."""

    team_id: str
    name: str
    domain: str
    bot_user_id: str
    bot_id: str
    bot_token: str | None = None

    @property
    def url(self) -> str:
        return f"https://{self.domain}.slack.com/"


@dataclass(frozen=True)
class Refresh:
    """One successful ``oauth.v2.access`` with ``grant_type=refresh_token``."""

    team_id: str
    token_type: str  # "bot" or "user"
    refresh_token: str  # the one spent
    access_token: str  # the one issued
    new_refresh_token: str


@dataclass(frozen=True)
class FileRequest:
    """One GET of a file URL (``url_private``, ``url_private_download``, ``thumb_*`` or off-host)."""

    path: str
    host: str
    headers: dict[str, str]
    status: int
    content_type: str

    @property
    def authorization(self) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == "authorization"), None)


@dataclass(frozen=True)
class Upload:
    """A file uploaded through files.getUploadURLExternal + upload URL + files.completeUploadExternal."""

    file_id: str
    filename: str
    title: str | None
    content: bytes
    channel_id: str | None
    thread_ts: str | None
    initial_comment: str | None


@dataclass
class _Fault:
    status: int  # 0: close the connection without an answer
    retry_after: int | None = None
    error: str | None = None


@dataclass
class _Token:
    """What a token (or a refresh token: ``kind`` is then what it refreshes) was issued for."""

    team_id: str
    kind: Literal["bot", "user"]
    user_id: str  # the bot user, or the installing user for a user token
    scope: str
    expires_at: float | None = None
    revoked: bool = False


@dataclass(frozen=True)
class _Consent:
    team_id: str
    user_id: str
    approve: bool


@dataclass(frozen=True)
class _Grant:
    """An OAuth code: who approved what, and where it was sent."""

    team_id: str
    user_id: str
    scope: str
    user_scope: str
    redirect_uri: str | None  # as the authorize URL gave it
    issued_at: float


@dataclass
class _StoredFile:
    file: JsonDict  # the full object, as files.info returns it
    content: bytes
    content_type: str
    team_id: str
    redirect: Redirect | None = None
    chunked: bool = False
    shared: JsonDict = field(default_factory=dict)  # as it appears in an event's files[]
    renders: dict[int, tuple[bytes, str]] = field(default_factory=dict)


class SlackError(Exception):
    """Raised by a method implementation: answered as ``{"ok": false, "error": code}``."""

    def __init__(self, code: str, **extra: Any) -> None:
        super().__init__(code)
        self.code = code
        self.extra = extra


def load_payload(name: str) -> JsonDict:
    """A copy of one of Slack's payload files from slack_contracts/payloads."""
    return json.loads((PAYLOADS / name).read_text())


def _load_specs() -> dict[str, JsonDict]:
    return {
        path.stem: json.loads(path.read_text())
        for path in (CONTRACTS / "specs" / "methods").glob("*.json")
    }


class SlackEmulator:
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

    def __init__(
        self,
        bot_token: str = DEFAULT_BOT_TOKEN,
        app_token: str = DEFAULT_APP_TOKEN,
        *,
        team_id: str = TEAM_ID,
        bot_user_id: str = BOT_USER_ID,
        bot_id: str = BOT_ID,
        app_id: str = APP_ID,
        client_id: str = CLIENT_ID,
        client_secret: str = CLIENT_SECRET,
        redirect_uri: str | None = None,
        token_rotation: bool = False,
        token_lifetime: int = TOKEN_LIFETIME,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """The default workspace (``team_id``, with ``bot_token``) is installed from the start.

        The app's OAuth settings: ``client_id``/``client_secret``; ``redirect_uri``, the Redirect URL
        configured for the app (the authorize URL's ``redirect_uri`` must start with it; without one
        in the URL, Slack redirects there); ``token_rotation`` (installs then issue expiring tokens
        with refresh tokens) and ``token_lifetime`` (their ``expires_in``, seconds). These are
        attributes too, and may change between installs. ``clock`` is the emulator's time source.
        """
        self.bot_token = bot_token
        self.app_token = app_token
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uri = redirect_uri
        self.token_rotation = token_rotation
        self.token_lifetime = token_lifetime
        self._clock = clock
        self._clock_offset = 0.0
        self.calls: list[Call] = []
        self.refreshes: list[Refresh] = []
        self.file_requests: list[FileRequest] = []
        self.uploads: list[Upload] = []
        self.acks: list[JsonDict] = []
        self._specs = _load_specs()
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._faults: dict[str, deque[_Fault]] = {}
        self._files: dict[str, _StoredFile] = {}
        self._pending_uploads: dict[str, JsonDict] = {}  # ticket -> {file_id, filename, content}
        self._messages: dict[str, list[JsonDict]] = {}  # channel -> messages, in posting order
        self._reactions: dict[tuple[str, str], list[str]] = {}
        self._tickets: set[str] = set()
        self._sockets: list[ServerConnection] = []
        self._workspaces = {
            team_id: Workspace(team_id, TEAM_NAME, TEAM_DOMAIN, bot_user_id, bot_id, bot_token)
        }
        self._tokens = {bot_token: _Token(team_id, "bot", bot_user_id, "")}
        self._refresh_tokens: dict[str, _Token] = {}
        self._channels: dict[str, str] = {}  # channel -> team, for channels not in the default one
        self._users: dict[tuple[str, str], JsonDict] = {}  # (team, user) -> users.info's user
        self._views: dict[str, JsonDict] = {}  # view id -> the view as Slack returns it
        self._homes: dict[tuple[str, str], str] = {}  # (team, user) -> their Home tab's view id
        self._triggers: set[str] = set()  # trigger ids already exchanged
        self._consents: deque[_Consent] = deque()
        self._grants: dict[str, _Grant] = {}  # OAuth code -> grant, until exchanged
        self._seq = 0
        self._ts_base = int(time.time())
        self._http: ThreadingHTTPServer | None = None
        self._ws: Server | None = None
        self._threads: list[threading.Thread] = []
        # Methods called with a token, given the workspace the token is for.
        self._methods: dict[str, Callable[[JsonDict, Workspace], JsonDict]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.update": self._chat_update,
            "reactions.add": self._reactions_add,
            "reactions.remove": self._reactions_remove,
            "files.info": self._files_info,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "files.getUploadURLExternal": self._files_get_upload_url_external,
            "files.completeUploadExternal": self._files_complete_upload_external,
            "apps.connections.open": self._apps_connections_open,
            "users.info": self._users_info,
            "views.publish": self._views_publish,
            "views.open": self._views_open,
            "views.update": self._views_update,
        }
        # Methods called with the app's client id and secret instead of a token.
        self._client_methods: dict[str, Callable[[JsonDict], JsonDict]] = {
            "oauth.v2.access": self._oauth_v2_access,
        }

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> SlackEmulator:
        """Start the HTTP and WebSocket servers; they listen when this returns."""
        handler = type("Handler", (_Handler,), {"emulator": self})
        self._http = _QuietServer(("127.0.0.1", 0), handler)
        self._ws = serve(
            self._socket_session,
            "127.0.0.1",
            0,
            process_request=self._check_ticket,
            ping_interval=None,
            close_timeout=1,
            max_size=None,
            logger=_LOG,
        )
        http = threading.Thread(target=self._http.serve_forever, args=(0.05,), daemon=True)
        ws = threading.Thread(target=self._ws.serve_forever, daemon=True)
        for thread in (http, ws):
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        """Close the Socket Mode connections and both servers."""
        if self._ws is not None:
            self._ws.shutdown()
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._ws = self._http = None
        self._threads.clear()

    def __enter__(self) -> SlackEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._http is None:
            raise RuntimeError("the emulator is not started")
        return self._http.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """The Web API base URL, for ``SLACK_API_URL`` / ``WebClient(base_url=...)``."""
        return f"{self.base_url}/api/"

    @property
    def offhost_url(self) -> str:
        """Same server under another host name: where ``redirect="offhost"`` files lead."""
        return f"http://localhost:{self.port}"

    # ------------------------------------------------------------------ recording

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [call for call in self.calls if call.method == method]

    def wait_for(self, method: str, count: int = 1, timeout: float = 5.0) -> list[Call]:
        """The calls to ``method`` once there are at least ``count``; AssertionError after timeout."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.calls_to(method)) >= count, timeout):
                seen = [call.method for call in self.calls]
                raise AssertionError(
                    f"expected {count} call(s) to {method} within {timeout}s; calls: {seen}"
                )
            return self.calls_to(method)

    def wait_until(self, condition: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Whether ``condition`` held within ``timeout``; it is checked again after every Web API
        call (whose effects, e.g. on :meth:`reactions`, are in place by then)."""
        with self._changed:
            return self._changed.wait_for(condition, timeout)

    def replies(
        self, thread_ts: str, channel: str | None = None, *, status: int | None = None
    ) -> list[Call]:
        """The chat.postMessage calls in the thread of ``thread_ts``, in order: in ``channel`` and
        answered with HTTP ``status`` only, when those are given."""
        return [
            call
            for call in self.calls_to("chat.postMessage")
            if call.args.get("thread_ts") == thread_ts
            and (channel is None or call.args.get("channel") == channel)
            and (status is None or call.status == status)
        ]

    def _record(self, call: Call) -> None:
        with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    # ------------------------------------------------------------------ faults

    def fail_next(
        self, method: str, status: int = 429, retry_after: int | None = 1, times: int = 1
    ) -> None:
        """Answer the next ``times`` calls to ``method`` with HTTP ``status``.

        429 comes with ``Retry-After`` and ``{"ok": false, "error": "ratelimited"}``, as Slack rate
        limits; other statuses with ``{"ok": false, "error": "internal_error"}``. ``method`` may also
        be :data:`FILE_DOWNLOAD` or :data:`FILE_UPLOAD` for the file endpoints.
        """
        fault = _Fault(status, retry_after if status == 429 else None)
        self._add_fault(method, fault, times)

    def drop_next(self, method: str, times: int = 1) -> None:
        """Close the connection of the next ``times`` calls to ``method`` without an answer, as a
        network failure would (slack_sdk's ConnectionErrorRetryHandler retries those)."""
        self._add_fault(method, _Fault(0), times)

    def error_next(self, method: str, error: str, times: int = 1) -> None:
        """Answer the next ``times`` calls to ``method`` with ``{"ok": false, "error": error}``."""
        self._add_fault(method, _Fault(200, error=error), times)

    def _add_fault(self, method: str, fault: _Fault, times: int) -> None:
        with self._lock:
            self._faults.setdefault(method, deque()).extend([fault] * times)

    def _take_fault(self, method: str) -> _Fault | None:
        with self._lock:
            queue = self._faults.get(method)
            return queue.popleft() if queue else None

    # ------------------------------------------------------------------ workspaces, installs, clock

    def now(self) -> float:
        """The emulator's time: its clock plus :meth:`advance_clock`. Expiry is judged by it."""
        return self._clock() + self._clock_offset

    def advance_clock(self, seconds: float) -> None:
        """Move the emulator's time forward, e.g. past a token's ``expires_in``."""
        with self._lock:
            self._clock_offset += seconds

    @property
    def default_workspace(self) -> Workspace:
        """The workspace of ``team_id`` and ``bot_token``, where unregistered channels belong."""
        return self._workspaces[self.team_id]

    def add_workspace(
        self,
        team_id: str,
        *,
        name: str | None = None,
        domain: str | None = None,
        bot_user_id: str | None = None,
        bot_id: str | None = None,
        installed: bool = True,
    ) -> Workspace:
        """Register another workspace. With ``installed`` the app is already in it, with a bot token
        that never expires (as installs made before token rotation was turned on); without, it has
        no token until an OAuth install."""
        suffix = team_id.removeprefix("T")
        workspace = Workspace(
            team_id,
            name or f"Workspace {team_id}",
            domain or f"emulated-{team_id.lower()}",
            bot_user_id or f"U0BOT{suffix}",
            bot_id or f"B0BOT{suffix}",
        )
        with self._lock:
            if team_id in self._workspaces:
                raise ValueError(f"workspace {team_id} exists")
            self._workspaces[team_id] = workspace
            if installed:
                workspace.bot_token = self._issue(
                    workspace, "bot", workspace.bot_user_id, "", False
                )
        return workspace

    def add_channel(self, channel_id: str, *, team: str) -> None:
        """Make ``channel_id`` a channel of workspace ``team`` (others belong to the default one)."""
        with self._lock:
            if team not in self._workspaces:
                raise KeyError(f"no workspace {team}")
            self._channels[channel_id] = team

    def add_user(
        self,
        user_id: str,
        *,
        team: str | None = None,
        name: str | None = None,
        is_admin: bool = False,
        is_owner: bool = False,
        is_primary_owner: bool = False,
    ) -> JsonDict:
        """Register a member of workspace ``team`` (default: the default one) for ``users.info``;
        returns the user object, built on the example of Slack's users.info reference."""
        team_id = team or self.team_id
        user = copy.deepcopy(self._specs["users.info"]["examples"]["success"]["example"]["user"])
        login = name or user_id.lower()
        user.update(
            id=user_id,
            team_id=team_id,
            name=login,
            real_name=login,
            is_admin=is_admin,
            is_owner=is_owner,
            is_primary_owner=is_primary_owner,
            updated=int(self.now()),
        )
        user["profile"].update(
            real_name=login,
            real_name_normalized=login,
            display_name=login,
            display_name_normalized=login,
            email=f"{login}@{self._workspaces[team_id].domain}.example.com",
            team=team_id,
        )
        with self._lock:
            self._users[(team_id, user_id)] = user
        return copy.deepcopy(user)

    def next_install(
        self, team: str | None = None, user: str = DEFAULT_USER, *, approve: bool = True
    ) -> None:
        """Who answers the next consent screen at ``/oauth/v2/authorize``, and how (queued in order).

        With none queued, the authorize URL's ``team`` (Slack's own parameter) or else the default
        workspace is installed by :data:`DEFAULT_USER`, who approves.
        """
        team_id = team or self.team_id
        with self._lock:
            if team_id not in self._workspaces:
                raise KeyError(f"no workspace {team_id}")
            self._consents.append(_Consent(team_id, user, approve))

    def uninstall(self, team: str) -> None:
        """Remove the app from workspace ``team``: its tokens stop working (bot tokens answer
        ``account_inactive``, user tokens ``token_revoked``, per Slack's common errors) and its
        refresh tokens are spent. Send ``app_uninstalled``/``tokens_revoked`` with slack_signing."""
        with self._lock:
            for grant in self._tokens.values():
                if grant.team_id == team:
                    grant.revoked = True
            self._refresh_tokens = {
                t: g for t, g in self._refresh_tokens.items() if g.team_id != team
            }
            self._workspaces[team].bot_token = None

    def home_view(self, user_id: str, *, team: str | None = None) -> JsonDict | None:
        """The Home tab ``views.publish`` last published for ``user_id`` in ``team``, if any."""
        with self._lock:
            view_id = self._homes.get((team or self.team_id, user_id))
            return copy.deepcopy(self._views[view_id]) if view_id else None

    def view(self, view_id: str) -> JsonDict:
        """A view as it stands now (published, opened or updated), as Slack returns it."""
        with self._lock:
            return copy.deepcopy(self._views[view_id])

    def _issue(
        self,
        workspace: Workspace,
        kind: Literal["bot", "user"],
        user: str,
        scope: str,
        rotating: bool,
    ) -> str:
        """A new token; rotating ones (``xoxe.xoxb-1-...``) expire after :attr:`token_lifetime`."""
        prefix = {"bot": "xoxb", "user": "xoxp"}[kind]
        if rotating:
            prefix = f"xoxe.{prefix}-1"
        expires_at = self.now() + self.token_lifetime if rotating else None
        token = f"{prefix}-test-{workspace.team_id}-{self._next_id('')}-not-a-real-token"
        with self._lock:
            self._tokens[token] = _Token(workspace.team_id, kind, user, scope, expires_at)
        return token

    def _issue_refresh(self, grant: _Token) -> str:
        """A refresh token for the kind, workspace, user and scope of ``grant``."""
        token = f"xoxe-1-test-{grant.team_id}-{self._next_id('')}-not-a-real-token"
        with self._lock:
            self._refresh_tokens[token] = replace(grant, expires_at=None)
        return token

    def _channel_team(self, channel: str) -> str:
        with self._lock:
            return self._channels.get(channel, self.team_id)

    def _check_channel(self, channel: str, workspace: Workspace) -> None:
        """Slack's answer for a channel of another workspace: no such channel for this token."""
        if self._channel_team(channel) != workspace.team_id:
            raise SlackError("channel_not_found")

    # ------------------------------------------------------------------ state for tests

    def add_message(
        self,
        channel: str,
        text: str = "",
        *,
        user: str = DEFAULT_USER,
        ts: str | None = None,
        thread_ts: str | None = None,
        files: list[JsonDict] | None = None,
        **fields: Any,
    ) -> JsonDict:
        """Register a message in ``channel`` (seen by conversations.history/replies); returns it."""
        team = self._channel_team(channel)
        message: JsonDict = {"type": "message", "user": user, "text": text, "team": team}
        message["ts"] = ts or self._next_ts()
        if thread_ts:
            message["thread_ts"] = thread_ts
        if files is not None:
            message["files"] = files
            message["upload"] = False
        message.update(fields)
        with self._lock:
            self._messages.setdefault(channel, []).append(message)
        return message

    def messages(self, channel: str) -> list[JsonDict]:
        """Every message registered or posted in ``channel`` (thread replies included), in order."""
        with self._lock:
            return [dict(m) for m in self._messages.get(channel, [])]

    def reactions(self, channel: str, ts: str) -> list[str]:
        """The bot's reactions on a message, in the order they were added."""
        with self._lock:
            return list(self._reactions.get((channel, ts), []))

    def add_image(
        self,
        content: bytes,
        name: str = "photo.png",
        mimetype: str | None = None,
        *,
        user: str = DEFAULT_USER,
        redirect: Redirect | None = None,
        scanning: bool = False,
        stub: bool = False,
        mode: str = "hosted",
        chunked: bool = False,
        team: str | None = None,
        **overrides: Any,
    ) -> JsonDict:
        """Register a file and return it as it appears in a ``file_share`` event's ``files[]``.

        ``mimetype`` defaults to what the bytes are (PIL), else a guess from ``name``. Options:
        ``redirect="offhost"`` (the file URLs answer 302 to :attr:`offhost_url`, which serves the bytes
        without a token like a pre-signed CDN URL), ``"same_host"`` (302 to the same host, which needs
        the token again) or ``"loop"`` (302 to itself, forever); ``scanning`` (no mimetype yet); ``stub`` (a Slack Connect stub
        ``{"id", "file_access": "check_file_info"}``, resolved by files.info); ``mode``
        ``"hidden_by_limit"`` / ``"tombstone"`` (only ``{"id", "mode"}``; files.info answers
        ``file_deleted`` for a tombstone); ``chunked`` (served with no Content-Length); ``team``,
        the workspace it was shared in (default: the default one); ``overrides`` replace keys of the
        file object (e.g. ``size=...``).
        """
        workspace = self._workspaces[team or self.team_id]
        stored = self._store_file(
            content, name, mimetype, user=user, workspace=workspace, mode=mode
        )
        stored.redirect = redirect
        stored.chunked = chunked
        if scanning:
            for key in ("mimetype", "filetype", "pretty_type"):
                stored.file.pop(key, None)
        stored.file.update(overrides)
        file_id = stored.file["id"]
        if mode in ("hidden_by_limit", "tombstone"):
            stored.file = {"id": file_id, "mode": mode}
            stored.shared = dict(stored.file)
        elif stub:
            stored.shared = {"id": file_id, "file_access": "check_file_info"}
        else:
            stored.shared = dict(stored.file)
        return dict(stored.shared)

    def _store_file(
        self,
        content: bytes,
        name: str,
        mimetype: str | None,
        *,
        user: str,
        workspace: Workspace,
        mode: str = "hosted",
        file_id: str | None = None,
    ) -> _StoredFile:
        size: tuple[int, int] | None = None
        try:
            with Image.open(io.BytesIO(content)) as image:
                size = image.size
                detected = Image.MIME.get(image.format or "")
        except (OSError, SyntaxError):
            detected = None
        content_type = (
            mimetype or detected or mimetypes.guess_type(name)[0] or "application/octet-stream"
        )
        file_id = file_id or self._next_id("F")
        now = int(time.time())
        stem, _, ext = name.rpartition(".") if "." in name else (name, "", "")
        filetype = {"jpeg": "jpg"}.get(content_type.split("/")[-1], ext.lower() or "binary")
        shared_id = f"{workspace.team_id}-{file_id}"
        file: JsonDict = {
            "id": file_id,
            "created": now,
            "timestamp": now,
            "name": name,
            "title": name,
            "mimetype": content_type,
            "filetype": filetype,
            "pretty_type": filetype.upper(),
            "user": user,
            "user_team": workspace.team_id,
            "editable": False,
            "size": len(content),
            "mode": mode,
            "is_external": False,
            "external_type": "",
            "is_public": True,
            "public_url_shared": False,
            "display_as_bot": False,
            "username": "",
            "url_private": f"{self.base_url}/files-pri/{shared_id}/{quote(name)}",
            "url_private_download": f"{self.base_url}/files-pri/{shared_id}/download/{quote(name)}",
            "media_display_type": "unknown",
            "permalink": f"{workspace.url}files/{user}/{file_id}/{quote(name)}",
            "permalink_public": f"https://slack-files.com/{shared_id}-{secrets.token_hex(5)}",
            "has_rich_preview": False,
            "file_access": "visible",
        }
        if size is not None:
            thumb_ext = "jpg" if content_type == "image/jpeg" else "png"
            thumb_base = f"{self.base_url}/files-tmb/{shared_id}-{secrets.token_hex(5)}"
            for px in CROPPED_THUMBS:
                file[f"thumb_{px}"] = f"{thumb_base}/{quote(stem or name)}_{px}.{thumb_ext}"
            for px in SCALED_THUMBS:
                if px < max(size):
                    file[f"thumb_{px}"] = f"{thumb_base}/{quote(stem or name)}_{px}.{thumb_ext}"
                    w, h = _scaled(size, px)
                    file[f"thumb_{px}_w"], file[f"thumb_{px}_h"] = w, h
            file["original_w"], file["original_h"] = size
        stored = _StoredFile(file, content, content_type, workspace.team_id)
        with self._lock:
            self._files[file_id] = stored
        return stored

    def _next_id(self, prefix: str) -> str:
        with self._lock:
            self._seq += 1
            return f"{prefix}0{self._seq:08d}"

    def _next_ts(self) -> str:
        with self._lock:
            self._seq += 1
            return f"{self._ts_base + self._seq // 1_000_000}.{self._seq % 1_000_000:06d}"

    # ------------------------------------------------------------------ Web API

    def _api(
        self,
        method: str,
        args: JsonDict,
        token: str | None,
        client: tuple[str, str] | None = None,
    ) -> tuple[int, JsonDict, dict]:
        """Answer one call; ``client`` is the HTTP Basic (client id, secret) pair, if sent."""
        fault = self._take_fault(method)
        if fault is not None:
            if fault.status == 0:
                return 0, {}, {}
            if fault.error is not None:
                return 200, {"ok": False, "error": fault.error}, {}
            if fault.status == 429:
                headers = {"Retry-After": str(fault.retry_after or 0)}
                return 429, {"ok": False, "error": "ratelimited"}, headers
            return fault.status, {"ok": False, "error": "internal_error"}, {}
        if method not in self._methods and method not in self._client_methods:
            return 200, {"ok": False, "error": "unknown_method"}, {}
        try:
            if method in self._client_methods:
                self._check_client(args, client)
                run = partial(self._client_methods[method], args)
            else:
                run = partial(self._methods[method], args, self._check_token(method, token))
            missing = [
                name
                for name in self._specs[method]["args"].get("required", [])
                if name != "token" and args.get(name) in (None, "")
            ]
            if missing:
                messages = [f"[ERROR] missing required field: {name}" for name in missing]
                raise SlackError("invalid_arguments", response_metadata={"messages": messages})
            return 200, {"ok": True, **run()}, {}
        except SlackError as e:
            return 200, {"ok": False, "error": e.code, **e.extra}, {}

    def _check_token(self, method: str, token: str | None) -> Workspace:
        """The workspace a working bot token is for (the app's own for the app token), else Slack's
        error: ``not_authed``, ``invalid_auth``, ``not_allowed_token_type``, ``token_expired``,
        ``account_inactive`` / ``token_revoked`` (uninstalled)."""
        if not token:
            raise SlackError("not_authed")
        with self._lock:
            grant = self._tokens.get(token)
        if method == "apps.connections.open":
            if grant is not None:
                raise SlackError("not_allowed_token_type")
            if token != self.app_token:
                raise SlackError("invalid_auth")
            return self.default_workspace
        if token == self.app_token:
            raise SlackError("not_allowed_token_type")
        if grant is None:
            raise SlackError("invalid_auth")
        if grant.revoked:
            raise SlackError("account_inactive" if grant.kind == "bot" else "token_revoked")
        if grant.expires_at is not None and self.now() >= grant.expires_at:
            raise SlackError("token_expired")
        if grant.kind != "bot":
            raise SlackError("not_allowed_token_type")
        return self._workspaces[grant.team_id]

    def _token_team(self, token: str | None) -> str | None:
        with self._lock:
            grant = self._tokens.get(token or "")
            return grant.team_id if grant else None

    def _check_client(self, args: JsonDict, client: tuple[str, str] | None) -> None:
        """Slack reads the app's credentials from HTTP Basic auth, else from form fields."""
        client_id, client_secret = client or (args.get("client_id"), args.get("client_secret"))
        if client_id != self.client_id:
            raise SlackError("invalid_client_id")
        if client_secret != self.client_secret:
            raise SlackError("bad_client_secret")

    def _auth_test(self, args: JsonDict, workspace: Workspace) -> JsonDict:
        return {
            "url": workspace.url,
            "team": workspace.name,
            "user": "imagebot",
            "team_id": workspace.team_id,
            "user_id": workspace.bot_user_id,
            "bot_id": workspace.bot_id,
            "is_enterprise_install": False,
        }

    def _bot_message(self, args: JsonDict, ts: str, workspace: Workspace) -> JsonDict:
        blocks = _json_arg(args, "blocks")
        text = str(args.get("text") or "")
        if not text and not blocks and not args.get("attachments"):
            raise SlackError("no_text")
        message: JsonDict = {
            "user": workspace.bot_user_id,
            "type": "message",
            "ts": ts,
            "bot_id": workspace.bot_id,
            "app_id": self.app_id,
            "text": text,
            "team": workspace.team_id,
            "bot_profile": {
                "id": workspace.bot_id,
                "deleted": False,
                "name": "imagebot",
                "updated": self._ts_base,
                "app_id": self.app_id,
                "team_id": workspace.team_id,
            },
        }
        if blocks:
            message["blocks"] = blocks
        return message

    def _chat_post_message(self, args: JsonDict, workspace: Workspace) -> JsonDict:
        channel = str(args["channel"])
        self._check_channel(channel, workspace)
        message = self._bot_message(args, self._next_ts(), workspace)
        metadata = _metadata_arg(args)
        if metadata:
            message["metadata"] = metadata
        thread_ts = args.get("thread_ts")
        if thread_ts:
            message["thread_ts"] = str(thread_ts)
            parent = self._find_message(channel, str(thread_ts))
            if parent is not None:
                message["parent_user_id"] = parent["user"]
        with self._lock:
            self._messages.setdefault(channel, []).append(message)
        return {"channel": channel, "ts": message["ts"], "message": message}

    def _chat_post_ephemeral(self, args: JsonDict, workspace: Workspace) -> JsonDict:
        self._check_channel(str(args["channel"]), workspace)
        message = self._bot_message(args, self._next_ts(), workspace)
        return {"message_ts": message["ts"]}

    def _chat_update(self, args: JsonDict, workspace: Workspace) -> JsonDict:
        channel, ts = str(args["channel"]), str(args["ts"])
        self._check_channel(channel, workspace)
        metadata = _metadata_arg(args)
        with self._lock:
            message = self._find_message(channel, ts)
            if message is None:
                raise SlackError("message_not_found")
            updated = self._bot_message(args, ts, workspace)
            message.pop("blocks", None)
            message.update({k: updated[k] for k in ("text", "blocks") if k in updated})
            # Slack keeps the metadata unless the update sends some; an empty object removes it.
            if metadata == {}:
                message.pop("metadata", None)
            elif metadata is not None:
                message["metadata"] = metadata
            message["edited"] = {"user": workspace.bot_user_id, "ts": self._next_ts()}
            # Slack's answer echoes the message without its position (ts, thread).
            echoed = {
                k: v for k, v in message.items() if k not in ("ts", "thread_ts", "parent_user_id")
            }
            return {"channel": channel, "ts": ts, "text": message["text"], "message": echoed}

    def _reaction_key(self, args: JsonDict, workspace: Workspace) -> tuple[tuple[str, str], str]:
        name = str(args["name"])
        if ":" in name or not name:
            raise SlackError("invalid_name")
        if not args.get("channel") or not args.get("timestamp"):
            raise SlackError("no_item_specified")
        self._check_channel(str(args["channel"]), workspace)
        return (str(args["channel"]), str(args["timestamp"])), name

    def _reactions_add(self, args: JsonDict, workspace: Workspace) -> JsonDict:
        key, name = self._reaction_key(args, workspace)
        with self._lock:
            names = self._reactions.setdefault(key, [])
            if name in names:
                raise SlackError("already_reacted")
            names.append(name)
        return {}

    def _reactions_remove(self, args: JsonDict, workspace: Workspace) -> JsonDict:
        key, name = self._reaction_key(args, workspace)
        with self._lock:
            names = self._reactions.get(key, [])
            if name not in names:
                raise SlackError("no_reaction")
            names.remove(name)
        return {}

    def _files_info(self, args: JsonDict, workspace: Workspace) -> JsonDict:
        with self._lock:
            stored = self._files.get(str(args["file"]))
            if stored is None or stored.team_id != workspace.team_id:
                raise SlackError("file_not_found")
            if stored.file.get("mode") == "tombstone":
                raise SlackError("file_deleted")
            file = dict(stored.file)
        return {"file": file, "comments": []}

    def _find_message(self, channel: str, ts: str) -> JsonDict | None:
        with self._lock:
            return next((m for m in self._messages.get(channel, []) if m["ts"] == ts), None)

    def _as_listed(self, message: JsonDict, replies: list[JsonDict], metadata: bool) -> JsonDict:
        """A message as history/replies list it: full file objects, thread counters, and its
        ``metadata`` only when the call asked for ``include_all_metadata``."""
        listed = dict(message)
        if not metadata:
            listed.pop("metadata", None)
        if "files" in listed:
            listed["files"] = [self._full_file(file) for file in listed["files"]]
        if replies:
            listed.update(
                thread_ts=message["ts"],
                reply_count=len(replies),
                reply_users=sorted({r["user"] for r in replies}),
                reply_users_count=len({r["user"] for r in replies}),
                latest_reply=replies[-1]["ts"],
            )
        return listed

    def _full_file(self, file: JsonDict) -> JsonDict:
        # History and replies carry full file objects, even where events had Slack Connect stubs.
        stored = self._files.get(str(file.get("id")))
        return dict(stored.file) if stored else file

    def _conversations_history(self, args: JsonDict, workspace: Workspace) -> JsonDict:
        channel = str(args["channel"])
        self._check_channel(channel, workspace)
        limit = _int_arg(args, "limit", 100)
        offset = _cursor_offset(args)
        metadata = _bool_arg(args, "include_all_metadata")
        with self._lock:
            messages = self._messages.get(channel, [])
            top = [m for m in messages if m.get("thread_ts", m["ts"]) == m["ts"]]
            top.sort(key=lambda m: float(m["ts"]), reverse=True)
            page = [
                self._as_listed(m, self._replies(channel, m["ts"]), metadata)
                for m in top[offset : offset + limit]
            ]
            has_more = offset + limit < len(top)
        answer: JsonDict = {
            "messages": page,
            "has_more": has_more,
            "pin_count": 0,
            "channel_actions_ts": None,
            "channel_actions_count": 0,
        }
        if has_more:
            answer["response_metadata"] = {"next_cursor": _cursor(offset + limit)}
        return answer

    def _replies(self, channel: str, parent_ts: str) -> list[JsonDict]:
        replies = [
            m
            for m in self._messages.get(channel, [])
            if m.get("thread_ts") == parent_ts and m["ts"] != parent_ts
        ]
        return sorted(replies, key=lambda m: float(m["ts"]))

    def _conversations_replies(self, args: JsonDict, workspace: Workspace) -> JsonDict:
        channel, ts = str(args["channel"]), str(args["ts"])
        self._check_channel(channel, workspace)
        limit = _int_arg(args, "limit", 1000)
        metadata = _bool_arg(args, "include_all_metadata")
        with self._lock:
            message = self._find_message(channel, ts)
            parent_ts = str(message.get("thread_ts") or ts) if message else ts
            parent = self._find_message(channel, parent_ts)
            replies = self._replies(channel, parent_ts)
            if parent is None and not replies:
                raise SlackError("thread_not_found")
            # A parent the test never registered (e.g. only sent as an event) is left out.
            thread = [self._as_listed(parent, replies, metadata)] if parent else []
            thread += [self._as_listed(r, [], metadata) for r in replies]
        return {"messages": thread[:limit], "has_more": len(thread) > limit}

    def _files_get_upload_url_external(self, args: JsonDict, workspace: Workspace) -> JsonDict:
        length = _int_arg(args, "length", 0)
        if length < 1:
            raise SlackError("missing_argument")
        ticket = secrets.token_urlsafe(16)
        file_id = self._next_id("F")
        with self._lock:
            self._pending_uploads[ticket] = {
                "file_id": file_id,
                "filename": str(args["filename"]),
                "team": workspace.team_id,
            }
        return {"upload_url": f"{self.base_url}/upload/v1/{ticket}", "file_id": file_id}

    def _receive_upload(self, ticket: str, content: bytes) -> bool:
        with self._lock:
            pending = self._pending_uploads.get(ticket)
            if pending is None:
                return False
            pending["content"] = content
            return True

    def _files_complete_upload_external(self, args: JsonDict, workspace: Workspace) -> JsonDict:
        items = _json_arg(args, "files")
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise SlackError("invalid_arguments")
        channel_id = args.get("channel_id") or None
        thread_ts = args.get("thread_ts") or None
        comment = args.get("initial_comment") or None
        if channel_id:
            self._check_channel(str(channel_id), workspace)
        with self._lock:
            by_id = {
                p["file_id"]: p
                for p in self._pending_uploads.values()
                if "content" in p and p["team"] == workspace.team_id
            }
            if any(item.get("id") not in by_id for item in items):
                raise SlackError("file_not_found")
            completed = {item["id"] for item in items}
            self._pending_uploads = {
                t: p for t, p in self._pending_uploads.items() if p["file_id"] not in completed
            }
            done: list[JsonDict] = []
            for item in items:
                pending = by_id[item["id"]]
                title = item.get("title") or None
                stored = self._store_file(
                    pending["content"],
                    pending["filename"],
                    None,
                    user=workspace.bot_user_id,
                    workspace=workspace,
                    file_id=item["id"],
                )
                stored.file["title"] = title or pending["filename"]
                stored.shared = dict(stored.file)
                self.uploads.append(
                    Upload(
                        file_id=item["id"],
                        filename=pending["filename"],
                        title=title,
                        content=pending["content"],
                        channel_id=str(channel_id) if channel_id else None,
                        thread_ts=str(thread_ts) if thread_ts else None,
                        initial_comment=str(comment) if comment else None,
                    )
                )
                done.append({"id": item["id"], "title": stored.file["title"]})
            if channel_id:
                shared = [dict(self._files[d["id"]].file) for d in done]
                self.add_message(
                    str(channel_id),
                    str(comment or ""),
                    user=workspace.bot_user_id,
                    thread_ts=str(thread_ts) if thread_ts else None,
                    files=shared,
                    bot_id=workspace.bot_id,
                )
        return {"files": done}

    def _apps_connections_open(self, args: JsonDict, workspace: Workspace) -> JsonDict:
        if self._ws is None:
            raise SlackError("internal_error")
        ticket = secrets.token_urlsafe(16)
        with self._lock:
            self._tickets.add(ticket)
        port = self._ws.socket.getsockname()[1]
        return {"url": f"ws://127.0.0.1:{port}/link/?ticket={ticket}&app_id={self.app_id}"}

    def _users_info(self, args: JsonDict, workspace: Workspace) -> JsonDict:
        with self._lock:
            user = self._users.get((workspace.team_id, str(args["user"])))
        if user is None:
            raise SlackError("user_not_found")
        return {"user": copy.deepcopy(user)}

    # ------------------------------------------------------------------ views

    def _views_publish(self, args: JsonDict, workspace: Workspace) -> JsonDict:
        view = _view_arg(args, "home")
        key = (workspace.team_id, str(args["user_id"]))
        with self._lock:
            # A user's Home tab keeps its view id across publishes.
            current = self._views.get(self._homes.get(key, ""))
            if current is not None:
                _check_hash(args, current)
            stored = self._store_view(view, workspace, current)
            self._homes[key] = stored["id"]
        return {"view": stored}

    def _views_open(self, args: JsonDict, workspace: Workspace) -> JsonDict:
        trigger = str(args.get("trigger_id") or args.get("interactivity_pointer") or "")
        if not _TRIGGER_ID.match(trigger):
            raise SlackError("invalid_trigger_id")
        view = _view_arg(args, "modal")
        with self._lock:
            if trigger in self._triggers:
                raise SlackError("exchanged_trigger_id")
            self._triggers.add(trigger)
            return {"view": self._store_view(view, workspace, None)}

    def _views_update(self, args: JsonDict, workspace: Workspace) -> JsonDict:
        view_id, external_id = args.get("view_id"), args.get("external_id")
        with self._lock:
            current = next(
                (
                    v
                    for v in self._views.values()
                    if v["team_id"] == workspace.team_id
                    and (
                        (view_id and v["id"] == view_id)
                        or (external_id and v["external_id"] == external_id)
                    )
                ),
                None,
            )
            if current is None:
                raise SlackError("not_found")
            view = _view_arg(args, current["type"])
            _check_hash(args, current)
            return {"view": self._store_view(view, workspace, current)}

    def _store_view(
        self, view: JsonDict, workspace: Workspace, current: JsonDict | None
    ) -> JsonDict:
        """The view as Slack keeps and returns it (keys of the views.* reference examples): an id
        (kept when ``current`` is replaced), a new ``hash``, a ``block_id`` on every block."""
        view_id = current["id"] if current else self._next_id("V")
        blocks = [
            {"block_id": secrets.token_urlsafe(4), **block} if isinstance(block, dict) else block
            for block in view["blocks"]
        ]
        stored: JsonDict = {
            "id": view_id,
            "team_id": workspace.team_id,
            "type": view["type"],
            "blocks": blocks,
            "private_metadata": str(view.get("private_metadata") or ""),
            "callback_id": str(view.get("callback_id") or ""),
            "state": {"values": {}},
            "hash": f"{int(self.now())}.{secrets.token_urlsafe(6)}",
            "title": view.get("title"),
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "close": view.get("close"),
            "submit": view.get("submit"),
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": self.app_id,
            "external_id": str(view.get("external_id") or ""),
            "app_installed_team_id": workspace.team_id,
            "bot_id": workspace.bot_id,
        }
        with self._lock:
            self._views[view_id] = stored
        return copy.deepcopy(stored)

    # ------------------------------------------------------------------ OAuth

    def _authorize(self, request: _Handler, query: str) -> None:
        """Slack's consent screen, answered as :meth:`next_install` says: ``302`` to the redirect URI
        with ``code`` and ``state``, or ``error=access_denied`` and ``state`` when denied."""
        params = dict(parse_qsl(query, keep_blank_values=True))
        requested = params.get("redirect_uri") or None
        redirect = requested or self.redirect_uri
        team = params.get("team") or self.team_id
        # Slack shows an error page instead of redirecting (with its wording for the first two).
        if params.get("client_id") != self.client_id:
            problem = "Invalid client_id parameter"
        elif not redirect or not redirect.startswith(self.redirect_uri or redirect):
            problem = f"redirect_uri did not match any configured URIs. Passed URI: {redirect}"
        elif not self._consents and team not in self._workspaces:
            problem = f"You are not signed in to workspace {team}"
        else:
            problem = None
        if problem is not None or not redirect:
            request.send_response(400)
            request.send_header("Content-Type", "text/html; charset=utf-8")
            request.send_body(f"<html><body><h1>Oops!</h1><p>{problem}</p></body></html>".encode())
            return
        with self._lock:
            consent = (
                self._consents.popleft() if self._consents else _Consent(team, DEFAULT_USER, True)
            )
        answer: dict[str, str] = {}
        if consent.approve:
            code = f"{self._next_id('')}.{secrets.token_hex(16)}"
            grant = _Grant(
                consent.team_id,
                consent.user_id,
                params.get("scope", ""),
                params.get("user_scope", ""),
                requested,
                self.now(),
            )
            with self._lock:
                self._grants[code] = grant
            answer["code"] = code
        else:
            answer["error"] = "access_denied"
        if "state" in params:
            answer["state"] = params["state"]
        separator = "&" if "?" in redirect else "?"
        request.send_response(302)
        request.send_header("Location", f"{redirect}{separator}{urlencode(answer)}")
        request.send_body(b"")

    def _oauth_v2_access(self, args: JsonDict) -> JsonDict:
        grant_type = args.get("grant_type") or "authorization_code"
        if grant_type == "refresh_token":
            return self._refresh(str(args.get("refresh_token") or ""))
        if grant_type != "authorization_code":
            raise SlackError("invalid_grant_type")
        code = str(args.get("code") or "")
        with self._lock:
            grant = self._grants.get(code)
            if grant is None or self.now() - grant.issued_at > CODE_LIFETIME:
                raise SlackError("invalid_code")
            # "This must match the originally submitted URI (if one was sent)."
            if (args.get("redirect_uri") or None) != grant.redirect_uri and grant.redirect_uri:
                raise SlackError("bad_redirect_uri")
            del self._grants[code]
            return self._install(grant)

    def _install(self, grant: _Grant) -> JsonDict:
        """An install's answer, shaped as the oauth.v2.access reference's examples. Without rotation,
        a workspace that still has a working bot token gets the same one back, as on Slack."""
        workspace = self._workspaces[grant.team_id]
        rotating = self.token_rotation
        answer: JsonDict = {"app_id": self.app_id, "authed_user": {"id": grant.user_id}}
        if grant.scope:
            token = workspace.bot_token or ""
            live = self._tokens.get(token)
            if rotating or live is None or live.revoked or live.expires_at is not None:
                token = self._issue(workspace, "bot", workspace.bot_user_id, grant.scope, rotating)
            self._tokens[token].scope = grant.scope
            workspace.bot_token = token
            answer.update(
                access_token=token,
                token_type="bot",
                scope=grant.scope,
                bot_user_id=workspace.bot_user_id,
            )
            if rotating:
                answer.update(self._expiring(self._tokens[token]))
        if grant.user_scope:
            user_token = self._issue(workspace, "user", grant.user_id, grant.user_scope, rotating)
            answer["authed_user"].update(
                scope=grant.user_scope, access_token=user_token, token_type="user"
            )
            if rotating:
                answer["authed_user"].update(self._expiring(self._tokens[user_token]))
        answer.update(
            team={"id": workspace.team_id, "name": workspace.name},
            enterprise=None,
            is_enterprise_install=False,
        )
        return answer

    def _expiring(self, grant: _Token) -> JsonDict:
        """``refresh_token`` and ``expires_in`` for a new rotating token."""
        assert grant.expires_at is not None
        return {
            "refresh_token": self._issue_refresh(grant),
            "expires_in": round(grant.expires_at - self.now()),
        }

    def _refresh(self, refresh_token: str) -> JsonDict:
        """A refresh: a new access token and a new refresh token; the old refresh token is spent
        (the old access token works until it expires)."""
        with self._lock:
            old = self._refresh_tokens.pop(refresh_token, None)
            if old is None:
                raise SlackError("invalid_refresh_token")
            workspace = self._workspaces[old.team_id]
            token = self._issue(workspace, old.kind, old.user_id, old.scope, True)
            renewed = self._expiring(self._tokens[token])
            if old.kind == "bot":
                workspace.bot_token = token
            self.refreshes.append(
                Refresh(old.team_id, old.kind, refresh_token, token, renewed["refresh_token"])
            )
        answer: JsonDict = {
            "app_id": self.app_id,
            "scope": old.scope,
            "token_type": old.kind,
            "access_token": token,
            **renewed,
            "team": {"id": workspace.team_id, "name": workspace.name},
            "enterprise": None,
            "is_enterprise_install": False,
        }
        answer["bot_user_id" if old.kind == "bot" else "user_id"] = old.user_id
        return answer

    # ------------------------------------------------------------------ file hosting

    def _serve_file(self, request: _Handler, path: str, query: str) -> None:
        host = request.headers.get("Host", "")
        offhost = path.startswith("/offhost/")
        match = _FILE_PATH.match(path.removeprefix("/offhost"))
        stored = self._files.get(match["id"] or match["tid"]) if match else None
        fault = self._take_fault(FILE_DOWNLOAD)
        # files.slack.com serves a file to a working bot token of the workspace it was shared in.
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
        try:
            authorized = (
                stored is not None
                and self._check_token(FILE_DOWNLOAD, bearer).team_id == stored.team_id
            )
        except SlackError:
            authorized = False
        location = None
        if fault is not None:
            status, content_type, body = fault.status, "text/plain", b"error"
        elif match is None or stored is None or offhost != host.startswith("localhost:"):
            status, content_type, body = 404, "text/html", b"<html>Not found</html>"
        elif not (authorized or offhost):
            status, content_type, body = 200, "text/html; charset=utf-8", LOGIN_PAGE
        elif stored.redirect == "offhost" and not offhost:
            status, content_type, body = 302, "text/plain", b""
            location = f"{self.offhost_url}/offhost{quote(path)}"
        elif stored.redirect == "same_host" and "hop=1" not in query:
            status, content_type, body = 302, "text/plain", b""
            location = f"{quote(path)}?hop=1"
        elif stored.redirect == "loop":
            status, content_type, body = 302, "text/plain", b""
            location = quote(path)
        else:
            status = 200
            size = match["size"]
            body, content_type = (
                self._render(stored, int(size)) if size else (stored.content, stored.content_type)
            )
        with self._lock:
            self.file_requests.append(
                FileRequest(path, host, dict(request.headers), status, content_type)
            )
        request.send_response(status)
        request.send_header("Content-Type", content_type)
        if location:
            request.send_header("Location", location)
        if match and match["download"] and status == 200 and (authorized or offhost):
            request.send_header("Content-Disposition", f'attachment; filename="{match["name"]}"')
        if status == 429 and fault is not None:
            request.send_header("Retry-After", str(fault.retry_after or 0))
        if stored is not None and stored.chunked and status == 200:
            request.send_chunked(body)
        else:
            request.send_body(body)

    def _render(self, stored: _StoredFile, px: int) -> tuple[bytes, str]:
        with self._lock:
            if px not in stored.renders:
                with Image.open(io.BytesIO(stored.content)) as image:
                    if px in CROPPED_THUMBS:
                        thumb = ImageOps.fit(image.convert("RGB"), (px, px))
                    else:
                        thumb = image.convert("RGB").resize(_scaled(image.size, px))
                jpeg = stored.content_type == "image/jpeg"
                out = io.BytesIO()
                thumb.save(out, "JPEG" if jpeg else "PNG")
                stored.renders[px] = (out.getvalue(), "image/jpeg" if jpeg else "image/png")
            return stored.renders[px]

    # ------------------------------------------------------------------ Socket Mode

    def _check_ticket(self, connection: ServerConnection, request: Any) -> Any:
        query = dict(parse_qsl(urlsplit(request.path).query))
        with self._lock:
            if urlsplit(request.path).path == "/link/" and query.get("ticket") in self._tickets:
                self._tickets.discard(query["ticket"])
                return None
        return connection.respond(401, "invalid ticket")

    def _socket_session(self, connection: ServerConnection) -> None:
        with self._changed:
            self._sockets.append(connection)
            hello = load_payload("socket_mode_hello.json")
            hello["num_connections"] = len(self._sockets)
            hello["connection_info"]["app_id"] = self.app_id
            self._changed.notify_all()
        try:
            connection.send(json.dumps(hello))
            for frame in connection:
                ack = json.loads(frame)
                if isinstance(ack, dict) and "envelope_id" in ack:
                    with self._changed:
                        self.acks.append(ack)
                        self._changed.notify_all()
        except ConnectionClosed:
            pass  # the app went away without a close frame, as slack_sdk's builtin client does
        finally:
            with self._changed:
                self._sockets.remove(connection)
                self._changed.notify_all()

    @property
    def socket_connections(self) -> int:
        """How many Socket Mode connections are open."""
        with self._lock:
            return len(self._sockets)

    def wait_for_socket(self, timeout: float = 5.0) -> None:
        """Wait until the app has a Socket Mode connection open."""
        with self._changed:
            if not self._changed.wait_for(lambda: bool(self._sockets), timeout):
                raise AssertionError(f"no Socket Mode connection within {timeout}s")

    def send_socket_message(self, envelope: JsonDict, timeout: float = 5.0) -> None:
        """Send an envelope on the newest Socket Mode connection, and no more."""
        self.wait_for_socket(timeout)
        with self._lock:
            connection = self._sockets[-1]
        connection.send(json.dumps(envelope))

    def send_envelope(self, envelope: JsonDict, timeout: float = 5.0) -> JsonDict:
        """Send an envelope on the newest Socket Mode connection; the app's ack frame for it."""
        envelope_id = envelope["envelope_id"]
        self.send_socket_message(envelope, timeout)

        def acked() -> JsonDict | None:
            return next((a for a in self.acks if a["envelope_id"] == envelope_id), None)

        with self._changed:
            if not self._changed.wait_for(acked, timeout):
                raise AssertionError(f"no ack for envelope {envelope_id} within {timeout}s")
            return acked() or {}


_FILE_PATH = re.compile(
    r"^/files-(?:pri/[A-Z0-9]+-(?P<id>F[0-9A-Z]+)/(?P<download>download/)?(?P<name>[^/]+)"
    r"|tmb/[A-Z0-9]+-(?P<tid>F[0-9A-Z]+)-[0-9a-f]+/[^/]+_(?P<size>\d+)\.\w+)$"
)


def _scaled(size: tuple[int, int], px: int) -> tuple[int, int]:
    w, h = size
    scale = px / max(w, h)
    return max(1, round(w * scale)), max(1, round(h * scale))


def _json_arg(args: JsonDict, name: str) -> Any:
    """A structured argument: JSON bodies carry it as is, forms as a JSON string."""
    value = args.get(name)
    if isinstance(value, str) and value:
        try:
            return json.loads(value)
        except ValueError:
            raise SlackError(f"invalid_{name}_format") from None
    return value


def _bool_arg(args: JsonDict, name: str) -> bool:
    """A boolean argument: JSON true, or "true"/"1" in a form (slack_sdk sends "1")."""
    return args.get(name) in (True, 1, "1", "true")


def _basic(scheme: str, credentials: str) -> tuple[str, str] | None:
    """(client id, client secret) from HTTP Basic credentials, as oauth.v2.access takes them."""
    if scheme != "Basic":
        return None
    try:
        client_id, _, secret = base64.b64decode(credentials).decode().partition(":")
    except ValueError:
        return None
    return client_id, secret


def _metadata_arg(args: JsonDict) -> JsonDict | None:
    """Message ``metadata`` as chat.postMessage/chat.update read it: None when absent, ``{}`` when
    empty, else ``{"event_type", "event_payload"}`` (``invalid_metadata_schema`` otherwise)."""
    metadata = _json_arg(args, "metadata")
    if metadata in (None, "", {}):
        return None if metadata in (None, "") else {}
    if not (
        isinstance(metadata, dict)
        and isinstance(metadata.get("event_type"), str)
        and metadata["event_type"]
        and isinstance(metadata.get("event_payload"), dict)
    ):
        raise SlackError("invalid_metadata_schema")
    return {"event_type": metadata["event_type"], "event_payload": metadata["event_payload"]}


# Slack's trigger ids: "12345.98765.abcd2358fdea" (views.open reference).
_TRIGGER_ID = re.compile(r"^\d+\.\d+\.[0-9A-Za-z]+$")
MAX_VIEW_BLOCKS = 100
MAX_MODAL_TEXT = 24  # a modal's title, submit and close texts


def _view_arg(args: JsonDict, view_type: str) -> JsonDict:
    """The ``view`` argument (JSON string or object), checked as Slack's view reference says: its
    ``type``, at most 100 blocks, a modal's plain_text ``title`` (and ``submit``/``close``) of at most
    24 characters. Else ``invalid_arguments`` with messages in Slack's ``[json-pointer:...]`` style."""
    try:
        view = _json_arg(args, "view")
    except SlackError:
        view = None
    if not isinstance(view, dict):
        problems = ["[ERROR] must provide an object [json-pointer:/view]"]
    else:
        problems = []
        if view.get("type") != view_type:
            problems.append("[ERROR] must be a valid enum value [json-pointer:/view/type]")
        blocks = view.get("blocks")
        if not isinstance(blocks, list):
            problems.append("[ERROR] missing required field: blocks [json-pointer:/view]")
        elif len(blocks) > MAX_VIEW_BLOCKS:
            problems.append("[ERROR] no more than 100 items allowed [json-pointer:/view/blocks]")
        for key in ("title", "submit", "close") if view_type == "modal" else ():
            text = view.get(key)
            if text is None and key != "title":
                continue
            if not (isinstance(text, dict) and text.get("type") == "plain_text"):
                problems.append(f"[ERROR] must be a plain_text object [json-pointer:/view/{key}]")
            elif not 0 < len(str(text.get("text") or "")) <= MAX_MODAL_TEXT:
                problems.append(
                    f"[ERROR] must be less than 25 characters [json-pointer:/view/{key}/text]"
                )
    if problems:
        raise SlackError("invalid_arguments", response_metadata={"messages": problems})
    assert isinstance(view, dict)
    return view


def _check_hash(args: JsonDict, current: JsonDict) -> None:
    """views.publish/views.update with a ``hash`` only replace the view that hash came from."""
    if args.get("hash") and args["hash"] != current["hash"]:
        raise SlackError("hash_conflict")


def _int_arg(args: JsonDict, name: str, default: int) -> int:
    value = args.get(name)
    if value in (None, ""):
        return default
    try:
        return int(str(value))
    except ValueError:
        raise SlackError("invalid_arguments") from None


def _cursor(offset: int) -> str:
    return base64.b64encode(f"next_offset:{offset}".encode()).decode()


def _cursor_offset(args: JsonDict) -> int:
    cursor = args.get("cursor")
    if not cursor:
        return 0
    try:
        return int(base64.b64decode(str(cursor)).decode().split(":")[1])
    except (ValueError, IndexError):
        raise SlackError("invalid_cursor") from None


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up (as a size cap does) are normal here; anything else is printed."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    emulator: SlackEmulator
    protocol_version = "HTTP/1.1"
    # Without it, each file served after the first on a kept-alive connection waits ~40 ms
    # for a delayed ACK (Nagle): seconds over a message of 65 images.
    disable_nagle_algorithm = True
    timeout = 30

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: tests read the emulator's records instead."""

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if path.startswith("/api/"):
            self._web_api(path.removeprefix("/api/"), parts.query, body)
        elif path == AUTHORIZE_PATH:
            self.emulator._authorize(self, parts.query)
        elif path.startswith("/upload/v1/"):
            self._upload(path.removeprefix("/upload/v1/"), body)
        else:
            self.emulator._serve_file(self, path, parts.query)

    do_POST = do_GET

    def _web_api(self, method: str, query: str, body: bytes) -> None:
        emulator = self.emulator
        spec = emulator._specs.get(method, {})
        args: JsonDict = dict(parse_qsl(query, keep_blank_values=True))
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        error = None
        if content_type == "application/json":
            try:
                data = json.loads(body or b"null")
            except ValueError:
                data, error = None, "invalid_json"
            if error is None and not isinstance(data, dict):
                error = "json_not_object"
            elif isinstance(data, dict) and spec.get("json_input_supported") is True:
                data.pop("token", None)  # Slack takes no token from a JSON body
                args.update(data)
        elif content_type in ("application/x-www-form-urlencoded", "text/plain", ""):
            args.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        else:
            error = "invalid_post_type"  # multipart/form-data is real Slack, not emulated here
        scheme, _, credentials = self.headers.get("Authorization", "").partition(" ")
        token = (credentials.strip() if scheme == "Bearer" else None) or args.get("token")
        args.pop("token", None)
        if error is None:
            status, answer, headers = emulator._api(
                method, args, token, _basic(scheme, credentials)
            )
        else:
            status, answer, headers = 200, {"ok": False, "error": error}, {}
        team = emulator._token_team(token)
        emulator._record(Call(method, args, dict(self.headers), status, answer, token, team))
        if status == 0:
            self.close_connection = True
            return
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_body(json.dumps(answer).encode())

    def _upload(self, ticket: str, body: bytes) -> None:
        fault = self.emulator._take_fault(FILE_UPLOAD)
        if fault is not None:
            self.send_response(fault.status)
            self.send_header("Content-Type", "text/plain")
            self.send_body(b"error")
        elif self.emulator._receive_upload(ticket, body):
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_body(f"OK - {len(body)}".encode())
        else:
            self.send_response(404)
            self.send_header("Content-Type", "text/plain")
            self.send_body(b"not found")

    def send_body(self, body: bytes) -> None:
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client stopped reading, as a size cap does

    def send_chunked(self, body: bytes, chunk: int = 64 * 1024) -> None:
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for start in range(0, len(body), chunk):
                part = body[start : start + chunk]
                self.wfile.write(f"{len(part):X}\r\n".encode() + part + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client stopped reading, as a size cap does
