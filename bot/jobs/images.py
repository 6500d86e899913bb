"""Where a detection's images come from: the files of a message (Slack Connect stubs resolved with
files.info), or the latest image shared in a channel (files.list: Tier 3, where conversations.history
allows an app outside the Marketplace one call a minute); each image as planned, with why it is
skipped."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from bot.slack.files import image_files, kept, needs_file_info
from bot.slack.responder import Responder

# The latest images of a channel looked at; the bot's own annotated uploads are among them.
LATEST_IMAGES = 20
FILE_INFO_PROBLEMS = {
    "file_deleted": "it was deleted",
    "file_not_found": "it is no longer on Slack",
}
UNKNOWN_FILE = "Slack would not tell me about this file."


@dataclass(frozen=True)
class PlannedImage:
    """One image of the request: its name for users, where it comes from, or why it is skipped."""

    name: str
    file: dict[str, Any] | None = None
    url: str | None = None
    problem: str | None = None

    def recorded(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True)
class LatestImages:
    """The latest image of a channel (none: no such image), or Slack's error when the channel
    cannot be read."""

    files: list[dict[str, Any]]
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def latest_image_files(responder: Responder, channel: str, bot_user: str | None) -> LatestImages:
    """The latest image shared in `channel` that its people can see, leaving out what `bot_user`
    (the bot) uploaded."""
    answer = responder.images(channel, LATEST_IMAGES)
    if not answer.ok:
        return LatestImages([], answer.error)
    listed = image_files(answer.data.get("files") or [])
    # files.list leaves out deleted files, and those hidden by the plan's storage limit; a Slack
    # Connect file may be refused to this workspace.
    found = [
        file
        for file in listed
        if file.get("user") != bot_user and file.get("file_access") != "access_denied"
    ]
    return LatestImages(found[:1])  # Slack lists the newest first


def resolve(responder: Responder, file: dict[str, Any]) -> PlannedImage | None:
    """The file as an image to try, or why it is skipped; None for a stub that is not an image."""
    if needs_file_info(file):
        answer = responder.file_info(file["id"])
        if not answer.ok:
            problem = FILE_INFO_PROBLEMS.get(str(answer.error), UNKNOWN_FILE)
            return PlannedImage(name=file["id"], problem=problem)
        file = kept(answer.data["file"])
        if not image_files([file]):
            return None
    name = file.get("name") or file.get("title") or file.get("id", "file")
    return PlannedImage(name=name, file=file)
