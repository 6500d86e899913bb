"""The client's exceptions: a small hierarchy the bot turns into sentences for users.

Messages name what failed (method, path, status) and never carry the client secret or an access
token: the client redacts both from any response text before it gets here.
"""

from __future__ import annotations


class ImageIntelligenceError(Exception):
    """Base class. `retryable` says whether the same call may succeed if tried again later."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class AuthenticationError(ImageIntelligenceError):
    """No usable access token: the token endpoint failed, or the API rejected a fresh token.

    `status` is the HTTP status, or None when no HTTP answer came (connection error, timeout).
    """

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False) -> None:
        super().__init__(message, retryable=retryable)
        self.status = status


class InvalidClientCredentials(AuthenticationError):
    """`POST /oauth/token` answered 401: the client id or secret is wrong."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=401, retryable=False)


class ApiError(ImageIntelligenceError):
    """An API call failed after `attempts` tries.

    `status` is the last HTTP status, or None when no HTTP answer came (connection error or
    timeout); `body` is the start of the last response body (secrets redacted).
    """

    def __init__(
        self,
        message: str,
        *,
        method: str,
        path: str,
        status: int | None,
        body: str = "",
        retryable: bool = False,
        attempts: int = 1,
    ) -> None:
        super().__init__(message, retryable=retryable)
        self.method = method
        self.path = path
        self.status = status
        self.body = body
        self.attempts = attempts


class JobTimeout(ImageIntelligenceError):
    """The job was still in progress when `timeout` seconds had passed; it may finish later."""

    def __init__(self, job_id: str, timeout: float) -> None:
        super().__init__(
            f"detect job {job_id} still in progress after {timeout:g} s", retryable=True
        )
        self.job_id = job_id
        self.timeout = timeout
