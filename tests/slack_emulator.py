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
  acks).

Every Web API call is recorded (:attr:`SlackEmulator.calls`); faults can be injected per method.
"""

from __future__ import annotations

import base64
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
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from PIL import Image, ImageOps
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

CONTRACTS = Path(__file__).parent / "slack_contracts"
PAYLOADS = CONTRACTS / "payloads"
DEFAULT_BOT_TOKEN = "xoxb-test-not-a-real-token"
DEFAULT_APP_TOKEN = "xapp-test-not-a-real-token"
TEAM_ID = "T111"
TEAM_DOMAIN = "emulated"
APP_ID = "A111"
# Not any user of the payload files: Bolt ignores events whose user is the bot's own.
BOT_ID = "B0BOT0001"
BOT_USER_ID = "U0BOT0001"
DEFAULT_USER = "U111"
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
    """One Web API call as the emulator received it (``token`` is not among ``args``)."""

    method: str
    args: JsonDict
    headers: dict[str, str]
    status: int = 200
    response: JsonDict = field(default_factory=dict)


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
    status: int
    retry_after: int | None = None
    error: str | None = None


@dataclass
class _StoredFile:
    file: JsonDict  # the full object, as files.info returns it
    content: bytes
    content_type: str
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
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.calls: list[Call] = []
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
        self._seq = 0
        self._ts_base = int(time.time())
        self._http: ThreadingHTTPServer | None = None
        self._ws: Server | None = None
        self._threads: list[threading.Thread] = []
        self._methods: dict[str, Callable[[JsonDict], JsonDict]] = {
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
        message: JsonDict = {"type": "message", "user": user, "text": text, "team": self.team_id}
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
        **overrides: Any,
    ) -> JsonDict:
        """Register a file and return it as it appears in a ``file_share`` event's ``files[]``.

        ``mimetype`` defaults to what the bytes are (PIL), else a guess from ``name``. Options:
        ``redirect="offhost"`` (the file URLs answer 302 to :attr:`offhost_url`, which serves the bytes
        without a token like a pre-signed CDN URL), ``"same_host"`` (302 to the same host, which needs
        the token again) or ``"loop"`` (302 to itself, forever); ``scanning`` (no mimetype yet); ``stub`` (a Slack Connect stub
        ``{"id", "file_access": "check_file_info"}``, resolved by files.info); ``mode``
        ``"hidden_by_limit"`` / ``"tombstone"`` (only ``{"id", "mode"}``; files.info answers
        ``file_deleted`` for a tombstone); ``chunked`` (served with no Content-Length);
        ``overrides`` replace keys of the file object (e.g. ``size=...``).
        """
        stored = self._store_file(content, name, mimetype, user=user, mode=mode)
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
        shared_id = f"{self.team_id}-{file_id}"
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
            "user_team": self.team_id,
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
            "permalink": f"https://{TEAM_DOMAIN}.slack.com/files/{user}/{file_id}/{quote(name)}",
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
        stored = _StoredFile(file=file, content=content, content_type=content_type)
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

    def _api(self, method: str, args: JsonDict, token: str | None) -> tuple[int, JsonDict, dict]:
        fault = self._take_fault(method)
        if fault is not None:
            if fault.error is not None:
                return 200, {"ok": False, "error": fault.error}, {}
            if fault.status == 429:
                headers = {"Retry-After": str(fault.retry_after or 0)}
                return 429, {"ok": False, "error": "ratelimited"}, headers
            return fault.status, {"ok": False, "error": "internal_error"}, {}
        implementation = self._methods.get(method)
        if implementation is None:
            return 200, {"ok": False, "error": "unknown_method"}, {}
        try:
            self._check_token(method, token)
            missing = [
                name
                for name in self._specs[method]["args"]["required"]
                if name != "token" and args.get(name) in (None, "")
            ]
            if missing:
                messages = [f"[ERROR] missing required field: {name}" for name in missing]
                raise SlackError("invalid_arguments", response_metadata={"messages": messages})
            return 200, {"ok": True, **implementation(args)}, {}
        except SlackError as e:
            return 200, {"ok": False, "error": e.code, **e.extra}, {}

    def _check_token(self, method: str, token: str | None) -> None:
        expected, other = (
            (self.app_token, self.bot_token)
            if method == "apps.connections.open"
            else (self.bot_token, self.app_token)
        )
        if not token:
            raise SlackError("not_authed")
        if token == other:
            raise SlackError("not_allowed_token_type")
        if token != expected:
            raise SlackError("invalid_auth")

    def _auth_test(self, args: JsonDict) -> JsonDict:
        return {
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": "Emulated Workspace",
            "user": "imagebot",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _bot_message(self, args: JsonDict, ts: str) -> JsonDict:
        blocks = _json_arg(args, "blocks")
        text = str(args.get("text") or "")
        if not text and not blocks and not args.get("attachments"):
            raise SlackError("no_text")
        message: JsonDict = {
            "user": self.bot_user_id,
            "type": "message",
            "ts": ts,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "text": text,
            "team": self.team_id,
            "bot_profile": {
                "id": self.bot_id,
                "deleted": False,
                "name": "imagebot",
                "updated": self._ts_base,
                "app_id": self.app_id,
                "team_id": self.team_id,
            },
        }
        if blocks:
            message["blocks"] = blocks
        return message

    def _chat_post_message(self, args: JsonDict) -> JsonDict:
        channel = str(args["channel"])
        message = self._bot_message(args, self._next_ts())
        thread_ts = args.get("thread_ts")
        if thread_ts:
            message["thread_ts"] = str(thread_ts)
            parent = self._find_message(channel, str(thread_ts))
            if parent is not None:
                message["parent_user_id"] = parent["user"]
        with self._lock:
            self._messages.setdefault(channel, []).append(message)
        return {"channel": channel, "ts": message["ts"], "message": message}

    def _chat_post_ephemeral(self, args: JsonDict) -> JsonDict:
        message = self._bot_message(args, self._next_ts())
        return {"message_ts": message["ts"]}

    def _chat_update(self, args: JsonDict) -> JsonDict:
        channel, ts = str(args["channel"]), str(args["ts"])
        with self._lock:
            message = self._find_message(channel, ts)
            if message is None:
                raise SlackError("message_not_found")
            updated = self._bot_message(args, ts)
            message.pop("blocks", None)
            message.update({k: updated[k] for k in ("text", "blocks") if k in updated})
            message["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
            # Slack's answer echoes the message without its position (ts, thread).
            echoed = {
                k: v for k, v in message.items() if k not in ("ts", "thread_ts", "parent_user_id")
            }
            return {"channel": channel, "ts": ts, "text": message["text"], "message": echoed}

    def _reaction_key(self, args: JsonDict) -> tuple[tuple[str, str], str]:
        name = str(args["name"])
        if ":" in name or not name:
            raise SlackError("invalid_name")
        if not args.get("channel") or not args.get("timestamp"):
            raise SlackError("no_item_specified")
        return (str(args["channel"]), str(args["timestamp"])), name

    def _reactions_add(self, args: JsonDict) -> JsonDict:
        key, name = self._reaction_key(args)
        with self._lock:
            names = self._reactions.setdefault(key, [])
            if name in names:
                raise SlackError("already_reacted")
            names.append(name)
        return {}

    def _reactions_remove(self, args: JsonDict) -> JsonDict:
        key, name = self._reaction_key(args)
        with self._lock:
            names = self._reactions.get(key, [])
            if name not in names:
                raise SlackError("no_reaction")
            names.remove(name)
        return {}

    def _files_info(self, args: JsonDict) -> JsonDict:
        with self._lock:
            stored = self._files.get(str(args["file"]))
            if stored is None:
                raise SlackError("file_not_found")
            if stored.file.get("mode") == "tombstone":
                raise SlackError("file_deleted")
            file = dict(stored.file)
        return {"file": file, "comments": []}

    def _find_message(self, channel: str, ts: str) -> JsonDict | None:
        with self._lock:
            return next((m for m in self._messages.get(channel, []) if m["ts"] == ts), None)

    def _as_listed(self, message: JsonDict, replies: list[JsonDict]) -> JsonDict:
        """A message as history/replies list it: full file objects, thread counters."""
        listed = dict(message)
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

    def _conversations_history(self, args: JsonDict) -> JsonDict:
        channel = str(args["channel"])
        limit = _int_arg(args, "limit", 100)
        offset = _cursor_offset(args)
        with self._lock:
            messages = self._messages.get(channel, [])
            top = [m for m in messages if m.get("thread_ts", m["ts"]) == m["ts"]]
            top.sort(key=lambda m: float(m["ts"]), reverse=True)
            page = [
                self._as_listed(m, self._replies(channel, m["ts"]))
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

    def _conversations_replies(self, args: JsonDict) -> JsonDict:
        channel, ts = str(args["channel"]), str(args["ts"])
        limit = _int_arg(args, "limit", 1000)
        with self._lock:
            message = self._find_message(channel, ts)
            parent_ts = str(message.get("thread_ts") or ts) if message else ts
            parent = self._find_message(channel, parent_ts)
            replies = self._replies(channel, parent_ts)
            if parent is None and not replies:
                raise SlackError("thread_not_found")
            # A parent the test never registered (e.g. only sent as an event) is left out.
            thread = [self._as_listed(parent, replies)] if parent else []
            thread += [self._as_listed(r, []) for r in replies]
        return {"messages": thread[:limit], "has_more": len(thread) > limit}

    def _files_get_upload_url_external(self, args: JsonDict) -> JsonDict:
        length = _int_arg(args, "length", 0)
        if length < 1:
            raise SlackError("missing_argument")
        ticket = secrets.token_urlsafe(16)
        file_id = self._next_id("F")
        with self._lock:
            self._pending_uploads[ticket] = {"file_id": file_id, "filename": str(args["filename"])}
        return {"upload_url": f"{self.base_url}/upload/v1/{ticket}", "file_id": file_id}

    def _receive_upload(self, ticket: str, content: bytes) -> bool:
        with self._lock:
            pending = self._pending_uploads.get(ticket)
            if pending is None:
                return False
            pending["content"] = content
            return True

    def _files_complete_upload_external(self, args: JsonDict) -> JsonDict:
        items = _json_arg(args, "files")
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise SlackError("invalid_arguments")
        channel_id = args.get("channel_id") or None
        thread_ts = args.get("thread_ts") or None
        comment = args.get("initial_comment") or None
        with self._lock:
            by_id = {p["file_id"]: p for p in self._pending_uploads.values() if "content" in p}
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
                    user=self.bot_user_id,
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
                    user=self.bot_user_id,
                    thread_ts=str(thread_ts) if thread_ts else None,
                    files=shared,
                    bot_id=self.bot_id,
                )
        return {"files": done}

    def _apps_connections_open(self, args: JsonDict) -> JsonDict:
        if self._ws is None:
            raise SlackError("internal_error")
        ticket = secrets.token_urlsafe(16)
        with self._lock:
            self._tickets.add(ticket)
        port = self._ws.socket.getsockname()[1]
        return {"url": f"ws://127.0.0.1:{port}/link/?ticket={ticket}&app_id={self.app_id}"}

    # ------------------------------------------------------------------ file hosting

    def _serve_file(self, request: _Handler, path: str, query: str) -> None:
        host = request.headers.get("Host", "")
        offhost = path.startswith("/offhost/")
        match = _FILE_PATH.match(path.removeprefix("/offhost"))
        stored = self._files.get(match["id"] or match["tid"]) if match else None
        fault = self._take_fault(FILE_DOWNLOAD)
        authorized = request.headers.get("Authorization") == f"Bearer {self.bot_token}"
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

    def send_envelope(self, envelope: JsonDict, timeout: float = 5.0) -> JsonDict:
        """Send an envelope on the newest Socket Mode connection; the app's ack frame for it."""
        envelope_id = envelope["envelope_id"]
        self.wait_for_socket(timeout)
        with self._lock:
            connection = self._sockets[-1]
        connection.send(json.dumps(envelope))

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
        bearer = self.headers.get("Authorization", "")
        token = bearer.removeprefix("Bearer ").strip() if bearer.startswith("Bearer ") else None
        token = token or args.get("token")
        args.pop("token", None)
        if error is None:
            status, answer, headers = emulator._api(method, args, token)
        else:
            status, answer, headers = 200, {"ok": False, "error": error}, {}
        emulator._record(Call(method, args, dict(self.headers), status, answer))
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
