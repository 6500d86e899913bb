"""Socket Mode: ``apps.connections.open`` (with the app token) hands out a one-time URL of a local
WebSocket server that speaks Slack's protocol: ``hello``, then envelopes the test sends, and the
app's acks, recorded in :attr:`SocketMode.acks`."""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

from tests.support.slack_emulator.arguments import JsonDict, SlackError
from tests.support.slack_emulator.core import EmulatorCore, Workspace, load_payload

_LOG = logging.getLogger(__name__)


class SocketMode(EmulatorCore):
    def _set_up(self) -> None:
        super()._set_up()
        self.acks: list[JsonDict] = []
        self._tickets: set[str] = set()
        self._sockets: list[ServerConnection] = []
        self._ws: Server | None = None
        self._methods["apps.connections.open"] = self._apps_connections_open

    def _listen(self) -> None:
        super()._listen()
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
        self._run(self._ws.serve_forever)

    def stop(self) -> None:
        """Close the Socket Mode connections, then the rest."""
        if self._ws is not None:
            self._ws.shutdown()
        super().stop()
        self._ws = None

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

    def _apps_connections_open(self, args: JsonDict, workspace: Workspace) -> JsonDict:
        if self._ws is None:
            raise SlackError("internal_error")
        ticket = secrets.token_urlsafe(16)
        with self._lock:
            self._tickets.add(ticket)
        port = self._ws.socket.getsockname()[1]
        return {"url": f"ws://127.0.0.1:{port}/link/?ticket={ticket}&app_id={self.app_id}"}

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
