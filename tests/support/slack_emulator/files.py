"""Files: hosted like files.slack.com and described by files.info (uploads.py: how they are uploaded).

A file's bytes are served with ``Authorization: Bearer <bot token>`` of the workspace it was shared
in, else with ``200`` and an HTML login page, as Slack does; thumbnails are real resized images.
"""

from __future__ import annotations

import io
import mimetypes
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote

from PIL import Image, ImageOps

from tests.support.slack_emulator.arguments import JsonDict, SlackError
from tests.support.slack_emulator.chat import Chat
from tests.support.slack_emulator.core import DEFAULT_USER, Workspace
from tests.support.slack_emulator.server import Handler

# Pseudo-method name for fault injection on the file URLs.
FILE_DOWNLOAD = "file_download"
# Resized thumbnails carry _w/_h; the small ones are square crops without (as in the real payload).
SCALED_THUMBS = (360, 480, 720, 800, 960, 1024)
CROPPED_THUMBS = (64, 80, 160)
LOGIN_PAGE = (
    b'<!DOCTYPE html><html lang="en-US"><head><meta charset="utf-8"><title>Slack</title></head>'
    b"<body><h1>Sign in to Slack</h1><p>We suggest using the email address you use at work.</p>"
    b"</body></html>"
)
_FILE_PATH = re.compile(
    r"^/files-(?:pri/[A-Z0-9]+-(?P<id>F[0-9A-Z]+)/(?P<download>download/)?(?P<name>[^/]+)"
    r"|tmb/[A-Z0-9]+-(?P<tid>F[0-9A-Z]+)-[0-9a-f]+/[^/]+_(?P<size>\d+)\.\w+)$"
)

Redirect = Literal["offhost", "same_host", "loop"]


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


@dataclass
class _StoredFile:
    file: JsonDict  # the full object, as files.info returns it
    content: bytes
    content_type: str
    team_id: str
    redirect: Redirect | None = None
    chunked: bool = False
    shared: JsonDict = field(default_factory=dict)  # as it appears in an event's files[]
    renders: dict[int, tuple[bytes, str]] = field(default_factory=dict)


class Files(Chat):
    def _set_up(self) -> None:
        super()._set_up()
        self.file_requests: list[FileRequest] = []
        self._files: dict[str, _StoredFile] = {}
        self._methods["files.info"] = self._files_info

    @property
    def offhost_url(self) -> str:
        """Same server under another host name: where ``redirect="offhost"`` files lead."""
        return f"http://localhost:{self.port}"

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
        team: str | None = None,
        **overrides: Any,
    ) -> JsonDict:
        """Register a file and return it as it appears in a ``file_share`` event's ``files[]``.

        ``mimetype`` defaults to what the bytes are (PIL), else a guess from ``name``. Options:
        ``redirect="offhost"`` (the file URLs answer 302 to :attr:`offhost_url`, which serves the bytes
        without a token like a pre-signed CDN URL), ``"same_host"`` (302 to the same host, which needs
        the token again) or ``"loop"`` (302 to itself, forever); ``scanning`` (no mimetype yet); ``stub`` (a Slack Connect stub
        ``{"id", "file_access": "check_file_info"}``, resolved by files.info); ``mode``
        ``"hidden_by_limit"`` / ``"tombstone"`` (only ``{"id", "mode"}``; files.info answers
        ``file_deleted`` for a tombstone); ``chunked`` (served with no Content-Length); ``team``,
        the workspace it was shared in (default: the default one); ``overrides`` replace keys of the
        file object (e.g. ``size=...``).
        """
        workspace = self._workspaces[team or self.team_id]
        stored = self._store_file(
            content, name, mimetype, user=user, workspace=workspace, mode=mode
        )
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
        workspace: Workspace,
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
        shared_id = f"{workspace.team_id}-{file_id}"
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
            "user_team": workspace.team_id,
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
            "permalink": f"{workspace.url}files/{user}/{file_id}/{quote(name)}",
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
        stored = _StoredFile(file, content, content_type, workspace.team_id)
        with self._lock:
            self._files[file_id] = stored
        return stored

    def _full_file(self, file: JsonDict) -> JsonDict:
        # History and replies carry full file objects, even where events had Slack Connect stubs.
        stored = self._files.get(str(file.get("id")))
        return dict(stored.file) if stored else file

    # ------------------------------------------------------------------ files.* methods

    def _files_info(self, args: JsonDict, workspace: Workspace) -> JsonDict:
        with self._lock:
            stored = self._files.get(str(args["file"]))
            if stored is None or stored.team_id != workspace.team_id:
                raise SlackError("file_not_found")
            if stored.file.get("mode") == "tombstone":
                raise SlackError("file_deleted")
            file = dict(stored.file)
        return {"file": file, "comments": []}

    # ------------------------------------------------------------------ file hosting

    def _serve(self, request: Handler, path: str, query: str, body: bytes) -> bool:
        if path.startswith(("/files-", "/offhost/")):
            self._serve_file(request, path, query)
            return True
        return super()._serve(request, path, query, body)

    def _serve_file(self, request: Handler, path: str, query: str) -> None:
        host = request.headers.get("Host", "")
        offhost = path.startswith("/offhost/")
        match = _FILE_PATH.match(path.removeprefix("/offhost"))
        stored = self._files.get(match["id"] or match["tid"]) if match else None
        fault = self._take_fault(FILE_DOWNLOAD)
        # files.slack.com serves a file to a working bot token of the workspace it was shared in.
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
        try:
            authorized = (
                stored is not None
                and self._check_token(FILE_DOWNLOAD, bearer).team_id == stored.team_id
            )
        except SlackError:
            authorized = False
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


def _scaled(size: tuple[int, int], px: int) -> tuple[int, int]:
    w, h = size
    scale = px / max(w, h)
    return max(1, round(w * scale)), max(1, round(h * scale))
