"""Uploads with slack_sdk's ``files_upload_v2``: ``files.getUploadURLExternal`` + the upload URL +
``files.completeUploadExternal``, the upload shared in its channel as a message.

An image's ``alt_txt`` (its description for screen readers) is refused past Slack's 1000
characters with ``alt_txt_too_large``, and kept on the file, as files.info and the shared message's
``files[]`` show it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from tests.support.slack_emulator.arguments import JsonDict, SlackError, int_arg, json_arg
from tests.support.slack_emulator.core import Workspace
from tests.support.slack_emulator.files import Files
from tests.support.slack_emulator.server import Handler

# Pseudo-method name for fault injection on the upload URL.
FILE_UPLOAD = "file_upload"
UPLOAD_PATH = "/upload/v1/"
# files.getUploadURLExternal's limit ("Description for the image is longer than the limit of 1000
# character", contracts/slack/specs/methods/files.getUploadURLExternal.json).
MAX_ALT_TXT = 1000


@dataclass(frozen=True)
class Upload:
    """A file uploaded through files.getUploadURLExternal + upload URL + files.completeUploadExternal."""

    file_id: str
    filename: str
    title: str | None
    alt_txt: str | None
    content: bytes
    channel_id: str | None
    thread_ts: str | None
    initial_comment: str | None


class Uploads(Files):
    def _set_up(self) -> None:
        super()._set_up()
        self.uploads: list[Upload] = []
        # ticket -> {file_id, filename, alt_txt, team, content once uploaded}
        self._pending_uploads: dict[str, JsonDict] = {}
        self._methods.update(
            {
                "files.getUploadURLExternal": self._files_get_upload_url_external,
                "files.completeUploadExternal": self._files_complete_upload_external,
            }
        )

    def _files_get_upload_url_external(self, args: JsonDict, workspace: Workspace) -> JsonDict:
        length = int_arg(args, "length", 0)
        if length < 1:
            raise SlackError("missing_argument")
        alt_txt = args.get("alt_txt")
        if alt_txt is not None and len(str(alt_txt)) > MAX_ALT_TXT:
            raise SlackError("alt_txt_too_large")
        ticket = secrets.token_urlsafe(16)
        file_id = self._next_id("F")
        with self._lock:
            self._pending_uploads[ticket] = {
                "file_id": file_id,
                "filename": str(args["filename"]),
                "alt_txt": None if alt_txt is None else str(alt_txt),
                "team": workspace.team_id,
            }
        return {"upload_url": f"{self.base_url}{UPLOAD_PATH}{ticket}", "file_id": file_id}

    def _receive_upload(self, ticket: str, content: bytes) -> bool:
        with self._lock:
            pending = self._pending_uploads.get(ticket)
            if pending is None:
                return False
            pending["content"] = content
            return True

    def _files_complete_upload_external(self, args: JsonDict, workspace: Workspace) -> JsonDict:
        items = json_arg(args, "files")
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise SlackError("invalid_arguments")
        channel_id = args.get("channel_id") or None
        thread_ts = args.get("thread_ts") or None
        comment = args.get("initial_comment") or None
        if channel_id:
            self._check_channel(str(channel_id), workspace)
        with self._lock:
            by_id = {
                p["file_id"]: p
                for p in self._pending_uploads.values()
                if "content" in p and p["team"] == workspace.team_id
            }
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
                    user=workspace.bot_user_id,
                    workspace=workspace,
                    file_id=item["id"],
                )
                stored.file["title"] = title or pending["filename"]
                if pending["alt_txt"] is not None:
                    stored.file["alt_txt"] = pending["alt_txt"]
                stored.shared = dict(stored.file)
                self.uploads.append(
                    Upload(
                        file_id=item["id"],
                        filename=pending["filename"],
                        title=title,
                        alt_txt=pending["alt_txt"],
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
                    user=workspace.bot_user_id,
                    thread_ts=str(thread_ts) if thread_ts else None,
                    files=shared,
                    bot_id=workspace.bot_id,
                )
        return {"files": done}

    def _serve(self, request: Handler, path: str, query: str, body: bytes) -> bool:
        if path.startswith(UPLOAD_PATH):
            self._upload(request, path.removeprefix(UPLOAD_PATH), body)
            return True
        return super()._serve(request, path, query, body)

    def _upload(self, request: Handler, ticket: str, body: bytes) -> None:
        fault = self._take_fault(FILE_UPLOAD)
        if fault is not None:
            request.send_response(fault.status)
            request.send_header("Content-Type", "text/plain")
            request.send_body(b"error")
        elif self._receive_upload(ticket, body):
            request.send_response(200)
            request.send_header("Content-Type", "text/plain; charset=utf-8")
            request.send_body(f"OK - {len(body)}".encode())
        else:
            request.send_response(404)
            request.send_header("Content-Type", "text/plain")
            request.send_body(b"not found")
