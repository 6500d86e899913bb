"""HTTP errors of the embedded API, rendered as `{"error": {"code", "message", "field"?}}`."""

from __future__ import annotations

import json
from http import HTTPStatus

import falcon


class ApiError(falcon.HTTPError):
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
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status, description=message, headers=headers)
        self.error_code = code
        self.field = field


class BadRequest(ApiError):
    """400: the request is malformed; `field` is the JSON path of the culprit, e.g. images[2].url."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(400, "bad_request", f"{field}: {problem}", field=field)


def unavailable(message: str) -> ApiError:
    """503: nothing was done; the same request may succeed shortly."""
    return ApiError(503, "unavailable", message, headers={"Retry-After": "1"})


def serialize(req: falcon.Request, resp: falcon.Response, error: falcon.HTTPError) -> None:
    """Falcon's error serializer: ours as they are, and Falcon's own (no route, wrong method) in
    the same shape."""
    if isinstance(error, ApiError):
        body = {"code": error.error_code, "message": error.description}
        if error.field is not None:
            body["field"] = error.field
    else:
        status = HTTPStatus(error.status_code)
        if status is HTTPStatus.NOT_FOUND:
            message = f"no such endpoint: {req.path[:200]}"
        elif status is HTTPStatus.METHOD_NOT_ALLOWED:
            allowed = dict(error.headers or {}).get("Allow", "")
            message = f"{req.method} is not allowed here; use {allowed}"
        else:
            message = error.description or status.phrase
        body = {"code": status.phrase.lower().replace(" ", "_"), "message": message}
    resp.content_type = falcon.MEDIA_JSON
    resp.data = json.dumps({"error": body}, separators=(",", ":")).encode()
