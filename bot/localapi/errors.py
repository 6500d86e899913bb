"""HTTP errors of the embedded API, rendered as `{"error": {"code", "message", "field"?}}`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class HttpError(Exception):
    """An error answer: HTTP status, a stable snake_case code and a sentence for people.

    Messages never carry secrets, tokens or request bodies: they are sent and may be logged.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        headers: Sequence[tuple[str, str]] = (),
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = tuple(headers)

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        return {"error": error}


class BadRequest(HttpError):
    """400: the request is malformed; `field` is the JSON path of the culprit, e.g. images[2].url."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(400, "bad_request", f"{field}: {problem}", field=field)
