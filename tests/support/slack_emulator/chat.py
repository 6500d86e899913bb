"""Channels' messages and the bot's reactions: chat.postMessage, chat.postEphemeral, chat.update,
reactions.add and reactions.remove, and a channel as conversations.history and conversations.replies
list it, with message ``metadata`` where Slack keeps it."""

from __future__ import annotations

from typing import Any

from tests.support.slack_emulator.arguments import (
    JsonDict,
    SlackError,
    bool_arg,
    cursor,
    cursor_offset,
    int_arg,
    json_arg,
)
from tests.support.slack_emulator.core import DEFAULT_USER, Call, EmulatorCore, Workspace


class Chat(EmulatorCore):
    def _set_up(self) -> None:
        super()._set_up()
        self._messages: dict[str, list[JsonDict]] = {}  # channel -> messages, in posting order
        self._reactions: dict[tuple[str, str], list[str]] = {}
        self._methods.update(
            {
                "chat.postMessage": self._chat_post_message,
                "chat.postEphemeral": self._chat_post_ephemeral,
                "chat.update": self._chat_update,
                "reactions.add": self._reactions_add,
                "reactions.remove": self._reactions_remove,
                "conversations.history": self._conversations_history,
                "conversations.replies": self._conversations_replies,
            }
        )

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
        team = self._channel_team(channel)
        message: JsonDict = {"type": "message", "user": user, "text": text, "team": team}
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

    def _find_message(self, channel: str, ts: str) -> JsonDict | None:
        with self._lock:
            return next((m for m in self._messages.get(channel, []) if m["ts"] == ts), None)

    def replies(
        self, thread_ts: str, channel: str | None = None, *, status: int | None = None
    ) -> list[Call]:
        """The chat.postMessage calls in the thread of ``thread_ts``, in order: in ``channel`` and
        answered with HTTP ``status`` only, when those are given."""
        return [
            call
            for call in self.calls_to("chat.postMessage")
            if call.args.get("thread_ts") == thread_ts
            and (channel is None or call.args.get("channel") == channel)
            and (status is None or call.status == status)
        ]

    def reactions(self, channel: str, ts: str) -> list[str]:
        """The bot's reactions on a message, in the order they were added."""
        with self._lock:
            return list(self._reactions.get((channel, ts), []))

    def _bot_message(self, args: JsonDict, ts: str, workspace: Workspace) -> JsonDict:
        blocks = json_arg(args, "blocks")
        text = str(args.get("text") or "")
        if not text and not blocks and not args.get("attachments"):
            raise SlackError("no_text")
        message: JsonDict = {
            "user": workspace.bot_user_id,
            "type": "message",
            "ts": ts,
            "bot_id": workspace.bot_id,
            "app_id": self.app_id,
            "text": text,
            "team": workspace.team_id,
            "bot_profile": {
                "id": workspace.bot_id,
                "deleted": False,
                "name": "imagebot",
                "updated": self._ts_base,
                "app_id": self.app_id,
                "team_id": workspace.team_id,
            },
        }
        if blocks:
            message["blocks"] = blocks
        return message

    def _chat_post_message(self, args: JsonDict, workspace: Workspace) -> JsonDict:
        channel = str(args["channel"])
        self._check_channel(channel, workspace)
        message = self._bot_message(args, self._next_ts(), workspace)
        metadata = _metadata_arg(args)
        if metadata:
            message["metadata"] = metadata
        thread_ts = args.get("thread_ts")
        if thread_ts:
            message["thread_ts"] = str(thread_ts)
            parent = self._find_message(channel, str(thread_ts))
            if parent is not None:
                message["parent_user_id"] = parent["user"]
        with self._lock:
            self._messages.setdefault(channel, []).append(message)
        return {"channel": channel, "ts": message["ts"], "message": message}

    def _chat_post_ephemeral(self, args: JsonDict, workspace: Workspace) -> JsonDict:
        self._check_channel(str(args["channel"]), workspace)
        message = self._bot_message(args, self._next_ts(), workspace)
        return {"message_ts": message["ts"]}

    def _chat_update(self, args: JsonDict, workspace: Workspace) -> JsonDict:
        channel, ts = str(args["channel"]), str(args["ts"])
        self._check_channel(channel, workspace)
        metadata = _metadata_arg(args)
        with self._lock:
            message = self._find_message(channel, ts)
            if message is None:
                raise SlackError("message_not_found")
            updated = self._bot_message(args, ts, workspace)
            message.pop("blocks", None)
            message.update({k: updated[k] for k in ("text", "blocks") if k in updated})
            # Slack keeps the metadata unless the update sends some; an empty object removes it.
            if metadata == {}:
                message.pop("metadata", None)
            elif metadata is not None:
                message["metadata"] = metadata
            message["edited"] = {"user": workspace.bot_user_id, "ts": self._next_ts()}
            # Slack's answer echoes the message without its position (ts, thread).
            echoed = {
                k: v for k, v in message.items() if k not in ("ts", "thread_ts", "parent_user_id")
            }
            return {"channel": channel, "ts": ts, "text": message["text"], "message": echoed}

    def _reaction_key(self, args: JsonDict, workspace: Workspace) -> tuple[tuple[str, str], str]:
        name = str(args["name"])
        if ":" in name or not name:
            raise SlackError("invalid_name")
        if not args.get("channel") or not args.get("timestamp"):
            raise SlackError("no_item_specified")
        self._check_channel(str(args["channel"]), workspace)
        return (str(args["channel"]), str(args["timestamp"])), name

    def _reactions_add(self, args: JsonDict, workspace: Workspace) -> JsonDict:
        key, name = self._reaction_key(args, workspace)
        with self._lock:
            names = self._reactions.setdefault(key, [])
            if name in names:
                raise SlackError("already_reacted")
            names.append(name)
        return {}

    def _reactions_remove(self, args: JsonDict, workspace: Workspace) -> JsonDict:
        key, name = self._reaction_key(args, workspace)
        with self._lock:
            names = self._reactions.get(key, [])
            if name not in names:
                raise SlackError("no_reaction")
            names.remove(name)
        return {}

    def _as_listed(self, message: JsonDict, replies: list[JsonDict], metadata: bool) -> JsonDict:
        """A message as history/replies list it: full file objects, thread counters, and its
        ``metadata`` only when the call asked for ``include_all_metadata``."""
        listed = dict(message)
        if not metadata:
            listed.pop("metadata", None)
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
        """A file of a message as history and replies list it: files.py gives the full object."""
        return file

    def _conversations_history(self, args: JsonDict, workspace: Workspace) -> JsonDict:
        channel = str(args["channel"])
        self._check_channel(channel, workspace)
        limit = int_arg(args, "limit", 100)
        offset = cursor_offset(args)
        metadata = bool_arg(args, "include_all_metadata")
        with self._lock:
            messages = self._messages.get(channel, [])
            top = [m for m in messages if m.get("thread_ts", m["ts"]) == m["ts"]]
            top.sort(key=lambda m: float(m["ts"]), reverse=True)
            page = [
                self._as_listed(m, self._replies(channel, m["ts"]), metadata)
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
            answer["response_metadata"] = {"next_cursor": cursor(offset + limit)}
        return answer

    def _replies(self, channel: str, parent_ts: str) -> list[JsonDict]:
        replies = [
            m
            for m in self._messages.get(channel, [])
            if m.get("thread_ts") == parent_ts and m["ts"] != parent_ts
        ]
        return sorted(replies, key=lambda m: float(m["ts"]))

    def _conversations_replies(self, args: JsonDict, workspace: Workspace) -> JsonDict:
        channel, ts = str(args["channel"]), str(args["ts"])
        self._check_channel(channel, workspace)
        limit = int_arg(args, "limit", 1000)
        metadata = bool_arg(args, "include_all_metadata")
        with self._lock:
            message = self._find_message(channel, ts)
            parent_ts = str(message.get("thread_ts") or ts) if message else ts
            parent = self._find_message(channel, parent_ts)
            replies = self._replies(channel, parent_ts)
            if parent is None and not replies:
                raise SlackError("thread_not_found")
            # A parent the test never registered (e.g. only sent as an event) is left out.
            thread = [self._as_listed(parent, replies, metadata)] if parent else []
            thread += [self._as_listed(r, [], metadata) for r in replies]
        return {"messages": thread[:limit], "has_more": len(thread) > limit}


def _metadata_arg(args: JsonDict) -> JsonDict | None:
    """Message ``metadata`` as chat.postMessage/chat.update read it: None when absent, ``{}`` when
    empty, else ``{"event_type", "event_payload"}`` (``invalid_metadata_schema`` otherwise)."""
    metadata = json_arg(args, "metadata")
    if metadata in (None, "", {}):
        return None if metadata in (None, "") else {}
    if not (
        isinstance(metadata, dict)
        and isinstance(metadata.get("event_type"), str)
        and metadata["event_type"]
        and isinstance(metadata.get("event_payload"), dict)
    ):
        raise SlackError("invalid_metadata_schema")
    return {"event_type": metadata["event_type"], "event_payload": metadata["event_payload"]}
