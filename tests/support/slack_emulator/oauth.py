"""The OAuth v2 install: Slack's consent screen at ``/oauth/v2/authorize``, ``oauth.v2.access``
(codes, and refresh tokens when token rotation is on), and uninstalls."""

from __future__ import annotations

import secrets
from collections import deque
from dataclasses import dataclass, replace
from urllib.parse import parse_qsl, urlencode

from tests.support.slack_emulator.arguments import JsonDict, SlackError
from tests.support.slack_emulator.core import DEFAULT_USER, EmulatorCore, IssuedToken
from tests.support.slack_emulator.server import Handler

AUTHORIZE_PATH = "/oauth/v2/authorize"
# Slack: an OAuth code expires after ten minutes.
CODE_LIFETIME = 600


@dataclass(frozen=True)
class Refresh:
    """One successful ``oauth.v2.access`` with ``grant_type=refresh_token``."""

    team_id: str
    token_type: str  # "bot" or "user"
    refresh_token: str  # the one spent
    access_token: str  # the one issued
    new_refresh_token: str


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


class OAuth(EmulatorCore):
    def _set_up(self) -> None:
        super()._set_up()
        self.refreshes: list[Refresh] = []
        self._refresh_tokens: dict[str, IssuedToken] = {}
        self._consents: deque[_Consent] = deque()
        self._grants: dict[str, _Grant] = {}  # OAuth code -> grant, until exchanged
        self._client_methods["oauth.v2.access"] = self._oauth_v2_access

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

    def _issue_refresh(self, grant: IssuedToken) -> str:
        """A refresh token for the kind, workspace, user and scope of ``grant``."""
        token = f"xoxe-1-test-{grant.team_id}-{self._next_id('')}-not-a-real-token"
        with self._lock:
            self._refresh_tokens[token] = replace(grant, expires_at=None)
        return token

    def _serve(self, request: Handler, path: str, query: str, body: bytes) -> bool:
        if path != AUTHORIZE_PATH:
            return super()._serve(request, path, query, body)
        self._authorize(request, query)
        return True

    def _authorize(self, request: Handler, query: str) -> None:
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

    def _expiring(self, grant: IssuedToken) -> JsonDict:
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
