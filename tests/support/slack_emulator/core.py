"""The Slack emulator's Web API core: what every area of it shares.

The state Slack keeps for the app (workspaces, the tokens issued in them, channels),
the records tests read (every call, with what it answered), injected faults, the emulator's clock,
and the dispatch of a Web API call: its fault, its token or client credentials, its required
arguments (from ``contracts/slack/specs/methods/<method>.json``), then the method. The HTTP server
that parses requests is in server.py; each area (chat.py, files.py, oauth.py, socket_mode.py,
views.py) adds its state and methods in :meth:`EmulatorCore._set_up`.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Literal

from tests.support.paths import SLACK_CONTRACTS
from tests.support.slack_emulator.arguments import JsonDict, SlackError
from tests.support.slack_emulator.faults import Fault, Faults
from tests.support.slack_emulator.server import Handler, QuietServer, Serving

CONTRACTS = SLACK_CONTRACTS
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
# Slack: rotating tokens expire after 12 hours.
TOKEN_LIFETIME = 43_200


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
    at: float = field(default_factory=time.monotonic)  # when it was answered


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


@dataclass
class IssuedToken:
    """What a token (or a refresh token: ``kind`` is then what it refreshes) was issued for."""

    team_id: str
    kind: Literal["bot", "user"]
    user_id: str  # the bot user, or the installing user for a user token
    scope: str
    expires_at: float | None = None
    revoked: bool = False


WebApiMethod = Callable[[JsonDict, Workspace], JsonDict]


def load_payload(name: str) -> JsonDict:
    """A copy of one of Slack's payload files from contracts/slack/payloads."""
    return json.loads((PAYLOADS / name).read_text())


def _load_specs() -> dict[str, JsonDict]:
    return {
        path.stem: json.loads(path.read_text())
        for path in (CONTRACTS / "specs" / "methods").glob("*.json")
    }


class EmulatorCore(Serving, Faults):
    """The shared state, records, faults, clock and dispatch of the emulator (see SlackEmulator)."""

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
        self._specs = _load_specs()
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._faults: dict[str, deque[Fault]] = {}
        self._workspaces = {
            team_id: Workspace(team_id, TEAM_NAME, TEAM_DOMAIN, bot_user_id, bot_id, bot_token)
        }
        self._tokens = {bot_token: IssuedToken(team_id, "bot", bot_user_id, "")}
        self._channels: dict[str, str] = {}  # channel -> team, for channels not in the default one
        self._seq = 0
        self._ts_base = int(time.time())
        self._http: QuietServer | None = None
        self._threads: list[threading.Thread] = []
        # Methods called with a token, given the workspace the token is for.
        self._methods: dict[str, WebApiMethod] = {"auth.test": self._auth_test}
        # Methods called with the app's client id and secret instead of a token.
        self._client_methods: dict[str, Callable[[JsonDict], JsonDict]] = {}
        self._set_up()

    def _set_up(self) -> None:
        """Each area adds its state and registers its Web API methods here, after super()'s."""

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

    def _record(self, call: Call) -> None:
        with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    # ------------------------------------------------------------------ workspaces, tokens, clock

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
            self._tokens[token] = IssuedToken(workspace.team_id, kind, user, scope, expires_at)
        return token

    def _channel_team(self, channel: str) -> str:
        with self._lock:
            return self._channels.get(channel, self.team_id)

    def _check_channel(self, channel: str, workspace: Workspace) -> None:
        """Slack's answer for a channel of another workspace: no such channel for this token."""
        if self._channel_team(channel) != workspace.team_id:
            raise SlackError("channel_not_found")

    # ------------------------------------------------------------------ ids

    def _next_id(self, prefix: str) -> str:
        with self._lock:
            self._seq += 1
            return f"{prefix}0{self._seq:08d}"

    def _next_ts(self) -> str:
        with self._lock:
            self._seq += 1
            return f"{self._ts_base + self._seq // 1_000_000}.{self._seq % 1_000_000:06d}"

    # ------------------------------------------------------------------ Web API dispatch

    def _answer(
        self,
        method: str,
        args: JsonDict,
        token: str | None,
        client: tuple[str, str] | None,
        headers: dict[str, str],
        error: str | None = None,
    ) -> tuple[int, JsonDict, dict[str, str]]:
        """Answer one call and record it: ``client`` is the HTTP Basic (client id, secret) pair, if
        sent; ``error``, what was wrong with the request's body, if anything."""
        if error is None:
            status, answer, answer_headers = self._api(method, args, token, client)
        else:
            status, answer, answer_headers = 200, {"ok": False, "error": error}, {}
        team = self._token_team(token)
        self._record(Call(method, args, headers, status, answer, token, team))
        return status, answer, answer_headers

    def _api(
        self,
        method: str,
        args: JsonDict,
        token: str | None,
        client: tuple[str, str] | None = None,
    ) -> tuple[int, JsonDict, dict[str, str]]:
        fault = self._take_fault(method)
        faulty = fault.answer() if fault is not None else None
        if faulty is not None:
            return faulty
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

    # ------------------------------------------------------------------ other pages

    def _serve(self, request: Handler, path: str, query: str, body: bytes) -> bool:
        """Answer a request outside the Web API, if its path is one this area serves. Areas that
        serve pages (oauth.py, files.py) take theirs and leave the rest to super(); the handler
        answers 404 to a path no area takes."""
        return False
