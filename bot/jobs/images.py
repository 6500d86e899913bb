"""Where a detection's images come from: the files of a message (Slack Connect stubs resolved with
files.info), or the latest image shared in a channel; each image as planned, with why it is skipped."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from bot.slack.files import image_files, kept, needs_file_info
from bot.slack.responder import Responder

HISTORY_LOOKBACK = 50
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
    """The image files of the latest message that has some (none: no such message), or Slack's
    error when the channel cannot be read."""

    files: list[dict[str, Any]]
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def latest_image_files(responder: Responder, channel: str) -> LatestImages:
    answer = responder.history(channel, HISTORY_LOOKBACK)
    if not answer.ok:
        return LatestImages([], answer.error)
    for message in answer.data.get("messages") or []:
        found = image_files(message.get("files") or [])
        if found:
            return LatestImages(found)
    return LatestImages([])


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
