"""The Web API calls jobs make in a workspace, each within Slack's rate limits, each answered with an
`Answer` instead of an exception.

Slack refuses calls for reasons a job has to live with (the bot left the channel, a message was
deleted, the file is gone): every refusal is logged once, here, with the method and the channel, and
the job decides what it means from `Answer.error`. Only the response data the jobs use is read.

Every call takes its turn first (`pacing.Pacer`). A reaction is decoration: when its turn has not
come, or Slack answers 429, it is skipped. Any other call must happen: it waits on the job's thread
for a turn that comes within INLINE_WAIT, else raises `RateLimited` so that the queue runs the job
again when the turn comes, with no thread waiting. A 429's Retry-After goes to the pacer, which has
every process of the deployment honour it.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.pacing import Pacer, RateLimited

logger = logging.getLogger(__name__)

INLINE_WAIT = 0.5  # seconds a call may wait for its turn on the job's thread
JITTER = 0.2  # up to this much later, so that calls that waited for one turn do not all come back at once
RATE_LIMITED = "ratelimited"  # Slack's error code for a 429


@dataclass(frozen=True)
class Answer:
    """A call's response body when Slack accepted it, else Slack's error code."""

    data: dict[str, Any]
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class Responder:
    """The Web API of the workspace `team`, with its bot token's `client`."""

    def __init__(self, client: WebClient, pacer: Pacer, team: str) -> None:
        self.client = client
        self._pacer = pacer
        self._team = team

    def post(self, channel: str, message: dict[str, Any], thread_ts: str | None = None) -> Answer:
        """Post `message` (text and blocks) in the channel, or in the thread of `thread_ts`."""
        return self._call(
            "chat.postMessage",
            self.client.chat_postMessage,
            channel=channel,
            thread_ts=thread_ts,
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

    def react(self, channel: str, ts: str, name: str) -> None:
        """Add a reaction to a message, if Slack's limits allow it now; one already there changes
        nothing."""
        self._call(
            "reactions.add",
            self.client.reactions_add,
            level=logging.INFO,
            optional=True,
            channel=channel,
            timestamp=ts,
            name=name,
        )

    def file_info(self, file_id: str) -> Answer:
        return self._call("files.info", self.client.files_info, level=logging.WARNING, file=file_id)

    def images(self, channel: str, count: int) -> Answer:
        """files.list: the latest `count` images shared in the channel, the newest first."""
        return self._call(
            "files.list",
            self.client.files_list,
            level=logging.WARNING,
            channel=channel,
            types="images",
            count=count,
        )

    def upload(self, channel: str, thread_ts: str, files: Sequence[dict[str, Any]]) -> Answer:
        """Upload files (`content`, `filename`, `title` and `alt_txt`, a description for screen
        readers of at most 1000 characters, each) into a thread, as one message."""
        return self._call(
            "files.upload_v2",
            self.client.files_upload_v2,
            level=logging.WARNING,
            turns={"files.getUploadURLExternal": len(files), "files.completeUploadExternal": 1},
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

    def _call(
        self,
        method: str,
        send: Callable[..., Any],
        *,
        level: int = logging.ERROR,
        optional: bool = False,
        turns: Mapping[str, int] | None = None,
        **args: Any,
    ) -> Answer:
        """Make the call `method` once its `turns` have come (the Web API methods it calls, and
        how many times: once `method` by default). `optional`: skipped rather than waited for."""
        channel = args.get("channel")
        for paced, cost in (turns or {method: 1}).items():
            if not self._take_turn(paced, channel, cost, optional=optional):
                logger.debug("skipped %s in %s: its turn has not come", method, self._team)
                return Answer({}, RATE_LIMITED)
        try:
            response = send(**args)
        except SlackApiError as exc:
            if exc.response.status_code == 429:
                return self._refused(exc, method, channel, optional=optional)
            error = str(exc.response.get("error") or f"HTTP {exc.response.status_code}")
            target = next(
                (args[k] for k in ("channel", "file", "user", "user_id") if k in args), ""
            )
            where = f"to {target}" if "channel" in args else f"for {target}"
            logger.log(level, "%s %s failed: %s", method, where, error)
            return Answer({}, error)
        return Answer(dict(response.data) if isinstance(response.data, dict) else {})

    def _take_turn(self, method: str, channel: str | None, cost: int, *, optional: bool) -> bool:
        """Whether the call may go now; RateLimited when it must wait longer than INLINE_WAIT."""
        delay = self._pacer.turn(self._team, method, channel, cost)
        if 0 < delay <= INLINE_WAIT and not optional:
            time.sleep(delay)
            delay = self._pacer.turn(self._team, method, channel, cost)
        if delay > 0 and not optional:
            raise RateLimited(method, delay + random.uniform(0, JITTER))
        return delay == 0

    def _refused(
        self, exc: SlackApiError, method: str, channel: str | None, *, optional: bool
    ) -> Answer:
        """Slack answered 429: every process waits its Retry-After before that call again."""
        # files_upload_v2 makes several calls: the URL names the one refused.
        refused = str(exc.response.api_url or method).rsplit("/", 1)[-1]
        wait, count = self._pacer.refused(
            self._team, refused, channel, _retry_after(exc.response.headers)
        )
        logger.warning(
            "Slack rate-limited %s in %s for %.0f s (429 number %d for %s)",
            refused,
            self._team,
            wait,
            count,
            refused,
        )
        if optional:
            return Answer({}, RATE_LIMITED)
        raise RateLimited(refused, wait + random.uniform(0, JITTER)) from None


def _retry_after(headers: Mapping[str, Any] | None) -> float | None:
    """Slack's Retry-After (seconds), or None when it is missing or not a number."""
    for name, value in (headers or {}).items():
        if name.lower() == "retry-after":
            try:
                return float(value[0] if isinstance(value, list) else value)
            except (TypeError, ValueError):
                return None
    return None
