"""The WSGI application served over HTTP: Slack's requests at POST /slack/events, and GET /healthz."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

SLACK_PATH = "/slack/events"


class SlackWebApp:
    """Events, slash commands and interactivity share one request URL, as the manifest says."""

    def __init__(self, app: App) -> None:
        self._slack = SlackRequestHandler(app, path=SLACK_PATH)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/healthz" and environ.get("REQUEST_METHOD") in (
            "GET",
            "HEAD",
        ):
            start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"ok\n"]
        return self._slack(environ, start_response)
