"""The emulator's HTTP server: started and stopped (`Serving`), a Web API request parsed as Slack
parses it, and bodies sent back.

``/api/<method>`` takes its token from the ``Authorization`` header or a ``token`` form field, never
from a JSON body (as Slack does); JSON bodies are read only by the methods whose spec says
``json_input_supported``, the others see no arguments. Every other path goes to the areas that
serve pages (``EmulatorCore._serve``).
"""

from __future__ import annotations

import base64
import json
import sys
import threading
from collections.abc import Callable
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

from tests.support.slack_emulator.arguments import JsonDict

if TYPE_CHECKING:
    from tests.support.slack_emulator.core import EmulatorCore

Emulator = TypeVar("Emulator", bound="Serving")


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up (as a size cap does) are normal here; anything else is printed."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    emulator: EmulatorCore
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
        elif not self.emulator._serve(self, path, parts.query, body):
            self.send_response(404)
            self.send_header("Content-Type", "text/html")
            self.send_body(b"<html>Not found</html>")

    do_POST = do_GET

    def _web_api(self, method: str, query: str, body: bytes) -> None:
        spec = self.emulator._specs.get(method, {})
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
        client = _basic(scheme, credentials)
        status, answer, headers = self.emulator._answer(
            method, args, token, client, dict(self.headers), error
        )
        if status == 0:
            self.close_connection = True
            return
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_body(json.dumps(answer).encode())

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


class Serving:
    """The emulator's servers on 127.0.0.1, each in a daemon thread."""

    _http: QuietServer | None
    _threads: list[threading.Thread]

    def start(self: Emulator) -> Emulator:
        """Start the servers; they listen when this returns."""
        self._listen()
        return self

    def _listen(self) -> None:
        """Start the HTTP server (areas with servers of their own start them too)."""
        handler = type("Handler", (Handler,), {"emulator": self})
        self._http = QuietServer(("127.0.0.1", 0), handler)
        self._run(partial(self._http.serve_forever, 0.05))

    def stop(self) -> None:
        """Close the servers."""
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._http = None
        self._threads.clear()

    def _run(self, serve: Callable[[], object]) -> None:
        """Serve in a daemon thread until :meth:`stop`."""
        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        self._threads.append(thread)

    def __enter__(self: Emulator) -> Emulator:
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


def _basic(scheme: str, credentials: str) -> tuple[str, str] | None:
    """(client id, client secret) from HTTP Basic credentials, as oauth.v2.access takes them."""
    if scheme != "Basic":
        return None
    try:
        client_id, _, secret = base64.b64decode(credentials).decode().partition(":")
    except ValueError:
        return None
    return client_id, secret
