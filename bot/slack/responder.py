"""The Web API calls jobs make, each answered with an `Answer` instead of an exception.

Slack refuses calls for reasons a job has to live with (the bot left the channel, a message was
deleted, the file is gone): every refusal is logged once, here, with the method and the channel, and
the job decides what it means from `Answer.error`. Only the response data the jobs use is read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answer:
    """A call's response body when Slack accepted it, else Slack's error code."""

    data: dict[str, Any]
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class Responder:
    def __init__(self, client: WebClient) -> None:
        self.client = client

    def post(
        self,
        channel: str,
        message: dict[str, Any],
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Answer:
        """Post `message` (text and blocks) in the channel, or in the thread of `thread_ts`;
        `metadata` ({"event_type", "event_payload"}) lets the bot find the message again."""
        return self._call(
            "chat.postMessage",
            self.client.chat_postMessage,
            channel=channel,
            thread_ts=thread_ts,
            metadata=metadata,
            **message,
        )

    def ephemeral(self, channel: str, user: str, message: dict[str, Any]) -> Answer:
        return self._call(
            "chat.postEphemeral",
            self.client.chat_postEphemeral,
            channel=channel,
            user=user,
            **message,
        )

    def react(self, channel: str, ts: str, *, add: str, remove: str | None = None) -> None:
        """Swap a reaction on a message; a reaction already there (or gone) changes nothing."""
        if remove:
            self._call(
                "reactions.remove",
                self.client.reactions_remove,
                level=logging.INFO,
                channel=channel,
                timestamp=ts,
                name=remove,
            )
        self._call(
            "reactions.add",
            self.client.reactions_add,
            level=logging.INFO,
            channel=channel,
            timestamp=ts,
            name=add,
        )

    def file_info(self, file_id: str) -> Answer:
        return self._call("files.info", self.client.files_info, level=logging.WARNING, file=file_id)

    def history(self, channel: str, limit: int) -> Answer:
        """The channel's latest messages (thread replies aside), with their metadata."""
        return self._call(
            "conversations.history",
            self.client.conversations_history,
            level=logging.WARNING,
            channel=channel,
            limit=limit,
            include_all_metadata=True,
        )

    def thread(self, channel: str, ts: str) -> Answer:
        """The thread of `ts` (the parent first, then its replies), with their metadata."""
        return self._call(
            "conversations.replies",
            self.client.conversations_replies,
            level=logging.WARNING,
            channel=channel,
            ts=ts,
            limit=200,
            include_all_metadata=True,
        )

    def upload(self, channel: str, thread_ts: str, files: Sequence[dict[str, Any]]) -> Answer:
        """Upload files (`content`, `filename`, `title` and `alt_txt`, a description for screen
        readers of at most 1000 characters, each) into a thread, as one message."""
        return self._call(
            "files.upload_v2",
            self.client.files_upload_v2,
            level=logging.WARNING,
            file_uploads=list(files),
            channel=channel,
            thread_ts=thread_ts,
        )

    def user(self, user_id: str) -> Answer:
        """users.info: the user, with is_admin / is_owner."""
        return self._call("users.info", self.client.users_info, level=logging.WARNING, user=user_id)

    def publish_home(self, user_id: str, view: dict[str, Any]) -> Answer:
        return self._call("views.publish", self.client.views_publish, user_id=user_id, view=view)

    def open_view(self, trigger_id: str, view: dict[str, Any]) -> Answer:
        return self._call(
            "views.open",
            self.client.views_open,
            level=logging.WARNING,
            trigger_id=trigger_id,
            view=view,
        )

    @staticmethod
    def _call(
        method: str, send: Callable[..., Any], *, level: int = logging.ERROR, **args: Any
    ) -> Answer:
        try:
            response = send(**args)
        except SlackApiError as exc:
            error = str(exc.response.get("error") or f"HTTP {exc.response.status_code}")
            target = next(
                (args[k] for k in ("channel", "file", "user", "user_id") if k in args), ""
            )
            where = f"to {target}" if "channel" in args else f"for {target}"
            logger.log(level, "%s %s failed: %s", method, where, error)
            return Answer({}, error)
        return Answer(dict(response.data) if isinstance(response.data, dict) else {})
