"""files.list: the files shared in a workspace's channels (registered or posted messages, uploads
included), newest first, filtered by channel, type, user and creation time, in pages, with the
channels each one is shared in (``channels``, ``groups`` or ``ims`` by the id's first letter)."""

from __future__ import annotations

import math

from tests.support.slack_emulator.arguments import JsonDict, SlackError, bool_arg, int_arg
from tests.support.slack_emulator.core import Workspace
from tests.support.slack_emulator.files import Files, _StoredFile

# files.list's `types` (docs.slack.dev): "all", or any of these, by the filetype Slack gives.
FILE_TYPES = {
    "images": None,  # by mimetype: image/*
    "pdfs": "pdf",
    "zips": "zip",
    "snippets": "text",
    "spaces": "space",
    "gdocs": "gdoc",
}
SHARES = {"C": "channels", "G": "groups", "D": "ims"}


class FileLists(Files):
    def _set_up(self) -> None:
        super()._set_up()
        self._methods["files.list"] = self._files_list

    def _files_list(self, args: JsonDict, workspace: Workspace) -> JsonDict:
        channel = str(args.get("channel") or "")
        if channel:
            self._check_channel(channel, workspace)
        types = str(args.get("types") or "all").split(",")
        if any(t != "all" and t not in FILE_TYPES for t in types):
            raise SlackError("unknown_type")
        count, page = int_arg(args, "count", 100), int_arg(args, "page", 1)
        hidden = bool_arg(args, "show_files_hidden_by_limit")
        newest, oldest = int_arg(args, "ts_to", 2**62), int_arg(args, "ts_from", 0)
        with self._lock:
            shared = self._shared_in()
            listed = [
                self._listed(stored, shared[file_id])
                for file_id, stored in self._files.items()
                if stored.team_id == workspace.team_id
                and file_id in shared
                and (not channel or channel in shared[file_id])
                and (not args.get("user") or stored.file.get("user") == args["user"])
                and oldest <= int(stored.file.get("created") or 0) <= newest
                and _of_types(stored, types)
                and stored.file.get("mode") != "tombstone"
                and (hidden or stored.file.get("mode") != "hidden_by_limit")
            ]
        listed.sort(key=lambda f: (f.get("created") or 0, f["id"]), reverse=True)
        pages = max(1, math.ceil(len(listed) / max(count, 1)))
        return {
            "files": listed[(page - 1) * count : page * count],
            "paging": {"count": count, "total": len(listed), "page": page, "pages": pages},
        }

    def _shared_in(self) -> dict[str, list[str]]:
        """Each shared file's id, and the channels it is shared in."""
        shared: dict[str, list[str]] = {}
        for channel, messages in self._messages.items():
            for message in messages:
                for file in message.get("files") or []:
                    where = shared.setdefault(str(file.get("id")), [])
                    if channel not in where:
                        where.append(channel)
        return shared

    @staticmethod
    def _listed(stored: _StoredFile, channels: list[str]) -> JsonDict:
        listed = dict(stored.file)
        if "created" in listed:  # a file hidden by the plan's limit is only {"id", "mode"}
            for prefix, key in SHARES.items():
                listed[key] = [c for c in channels if c.startswith(prefix)]
            listed["comments_count"] = 0
        return listed


def _of_types(stored: _StoredFile, types: list[str]) -> bool:
    if "all" in types:
        return True
    mimetype = str(stored.file.get("mimetype") or "")
    return any(
        mimetype.startswith("image/")
        if FILE_TYPES[t] is None
        else stored.file.get("filetype") == FILE_TYPES[t]
        for t in types
    )
