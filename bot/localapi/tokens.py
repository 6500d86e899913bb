"""Client-credential checks and the bearer tokens the embedded API issues.

A token is `<issuedAt>.<expiresAt>.<nonce>.<signature>`: the signature is an HMAC-SHA256 of the rest
under a key drawn at random for each server instance. Nothing is stored; a forged, altered or
foreign (another instance's) token fails the signature check; an expired one fails the clock check.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from typing import Any

from bot.localapi.bodies import Credentials
from bot.localapi.errors import ApiError

TOKEN_LIFETIME_MS = 24 * 60 * 60 * 1000
ORG_NAME = "local"
APP_NAME = "image-intelligence-slackbot-embedded"
SCOPE = "detect:create detect:read feedback:create"


def _unauthorized(message: str, error: str = "invalid_token") -> ApiError:
    return ApiError(
        401, "unauthorized", message, headers={"WWW-Authenticate": f'Bearer error="{error}"'}
    )


class TokenAuthority:
    """Mints tokens for one client id/secret pair and checks `Authorization` headers."""

    def __init__(self, client_id: str, client_secret: str, clock: Callable[[], float]) -> None:
        self._client_id = client_id.encode()
        self._client_secret = client_secret.encode()
        self._clock = clock
        self._key = secrets.token_bytes(32)

    def __repr__(self) -> str:
        return "TokenAuthority(<credentials hidden>)"

    def issue(self, credentials: Credentials) -> dict[str, Any]:
        """An AccessTokenResponse for valid credentials; 401 otherwise."""
        # Both compared in constant time, and both always compared, so timing tells nothing.
        id_ok = hmac.compare_digest(credentials.client_id.encode(), self._client_id)
        secret_ok = hmac.compare_digest(credentials.client_secret.encode(), self._client_secret)
        if not (id_ok and secret_ok):
            raise ApiError(401, "invalid_client", "invalid client credentials")
        issued_at = int(self._clock() * 1000)
        expires_at = issued_at + TOKEN_LIFETIME_MS
        payload = f"{issued_at}.{expires_at}.{secrets.token_urlsafe(12)}"
        return {
            "accessToken": f"{payload}.{self._sign(payload)}",
            "expiresAt": expires_at,
            "issuedAt": issued_at,
            "orgName": ORG_NAME,
            "appName": APP_NAME,
            "scope": SCOPE,
        }

    def check(self, authorization: str | None) -> None:
        """Raise a 401 ApiError unless `authorization` is "Bearer <a valid, unexpired token>"."""
        scheme, _, token = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("a bearer token is required", error="invalid_request")
        payload, _, signature = token.strip().rpartition(".")
        if not payload or not hmac.compare_digest(signature.encode(), self._sign(payload).encode()):
            raise _unauthorized("invalid access token")
        expires_at = int(payload.split(".")[1])
        if self._clock() * 1000 >= expires_at:
            raise _unauthorized("access token expired")

    def _sign(self, payload: str) -> str:
        return hmac.new(self._key, payload.encode(), hashlib.sha256).hexdigest()
