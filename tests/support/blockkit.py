"""Slack's rules for messages and views, checked with slack_sdk.models where they cover them.

`slack_problems` names where a message (`{"text", "blocks"}`) or a view (`{"type": "home" | "modal",
...}`) breaks a rule. slack_sdk's models check the limits they know (blocks per view, block and
element fields, option texts and values, ...), and they read each block back exactly as it was given
unless it has a field they do not know. The rest is checked here from Slack's references
(docs.slack.dev/reference/block-kit, .../reference/views, .../messaging): the limits of a message,
JSON, texts that are empty or must be plain_text, radio buttons, initial options, unique ids, where
inputs may be, and the overflow menu's two options at least.

Slack asks for action ids unique in their block. A message's results repeat one action id, each
section's control telling its image apart by value; a view's are held unique across the view, since
the bot's listeners tell its controls apart by action id alone.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from slack_sdk.models.blocks import Block, Option
from slack_sdk.models.views import View

MAX_MESSAGE_TEXT = 3000  # the bot's own cap on a fallback text; Slack truncates at 40,000
MAX_MESSAGE_BLOCKS = 50
MAX_CONTEXT_TEXT = 3000
MAX_INPUT_VALUE = 3000
MAX_RADIO_OPTIONS = 10
MIN_OVERFLOW_OPTIONS = 2
CONVERSATION_TYPES = {"im", "mpim", "private", "public"}
# The fields whose text object Slack requires to be plain_text, by block or element type.
PLAIN_ONLY = {
    "header": ("text",),
    "input": ("label", "hint"),
    "button": ("text",),
    "static_select": ("placeholder",),
    "multi_conversations_select": ("placeholder",),
}


def slack_problems(payload: dict[str, Any]) -> list[str]:
    """Where `payload`, a message or a view, breaks a rule of Slack's: [] when Slack takes it."""
    problems: list[str] = []
    block_ids: list[str] = []
    action_ids: list[list[str]] = []  # by block

    def check(ok: bool, what: str) -> None:
        if not ok:
            problems.append(what)

    def attempt(what: str, validate: Callable[[], Any]) -> Any:
        """What `validate` returns, or None when it raises: slack_sdk found a problem."""
        try:
            return validate()
        except Exception as exc:  # SlackObjectFormationError, or a shape the model cannot read
            problems.append(f"{what}: {exc}")
            return None

    def plain_fields(obj: dict[str, Any], what: str) -> None:
        for key in PLAIN_ONLY.get(obj.get("type", ""), ()):
            if key in obj:
                text(obj[key], f"{what} {key}", plain=True)

    def text(obj: Any, what: str, *, plain: bool = False) -> None:
        types = ("plain_text",) if plain else ("plain_text", "mrkdwn")
        check(
            isinstance(obj, dict) and obj.get("type") in types and bool(obj.get("text")),
            f"{what}: a {' or '.join(types)} text of at least 1 character",
        )

    def option(obj: Any, what: str) -> None:
        attempt(what, lambda: Option(**obj).to_dict())
        text(obj.get("text"), f"{what} text", plain=True)
        check(bool(obj.get("value")), f"{what}: a value of at least 1 character")

    def element(obj: dict[str, Any], what: str) -> None:
        kind = obj.get("type", "")
        if "action_id" in obj:
            action_ids[-1].append(obj["action_id"])
        plain_fields(obj, what)
        options = obj.get("options", [])
        for n, o in enumerate(options):
            option(o, f"{what} option {n}")
        if "initial_option" in obj:
            check(obj["initial_option"] in options, f"{what}: the initial option is an option")
        if "options" in obj:
            least = MIN_OVERFLOW_OPTIONS if kind == "overflow" else 1
            check(len(options) >= least, f"{what}: at least {least} option(s)")
        if kind == "radio_buttons":
            check(len(options) <= MAX_RADIO_OPTIONS, f"{what}: at most 10 options")
        elif kind == "plain_text_input":
            check(len(obj.get("initial_value", "")) <= MAX_INPUT_VALUE, f"{what}: initial value")
        elif kind == "multi_conversations_select":
            include = obj.get("filter", {}).get("include", ["public"])
            check(bool(include) and set(include) <= CONVERSATION_TYPES, f"{what}: filter")

    def block(obj: dict[str, Any], what: str, view_type: str | None) -> None:
        try:
            parsed = Block.parse(obj)
        except Exception as exc:  # a field of a type slack_sdk's model cannot take
            problems.append(f"{what}: {exc}")
            return
        if parsed is None:
            problems.append(f"{what}: not a block slack_sdk knows")
            return
        before = len(problems)
        read_back = attempt(what, parsed.to_dict)
        if "block_id" in obj:
            block_ids.append(obj["block_id"])
        action_ids.append([])
        kind = obj["type"]
        plain_fields(obj, what)
        if "text" in obj and kind != "header":
            text(obj["text"], f"{what} text")
        for n, e in enumerate(obj.get("elements", []) if kind == "context" else []):
            text(e, f"{what} element {n}")
            check(len(e.get("text", "")) <= MAX_CONTEXT_TEXT, f"{what} element {n}: too long")
        for n, e in enumerate(obj.get("elements", []) if kind == "actions" else []):
            element(e, f"{what} element {n}")
        if "accessory" in obj:
            element(obj["accessory"], f"{what} accessory")
        if kind == "input":
            check(view_type == "modal", f"{what}: inputs only in modals")
            element(obj["element"], f"{what} element")
        if len(problems) == before:  # else the read-back differs for the same reason
            check(read_back == obj, f"{what}: fields slack_sdk does not know")

    attempt("payload", lambda: json.dumps(payload))
    view_type = payload.get("type")
    blocks = payload.get("blocks") or []
    if view_type is None:
        check(set(payload) == {"text", "blocks"}, "message: a text and blocks")
        message_text = payload.get("text")
        check(
            isinstance(message_text, str) and 0 < len(message_text) <= MAX_MESSAGE_TEXT,
            "message: a text of 1 to 3000 characters",
        )
        check(0 < len(blocks) <= MAX_MESSAGE_BLOCKS, "message: 1 to 50 blocks")
    else:
        attempt("view", lambda: View(**payload).validate_json())
        check(set(payload) <= View.attributes, "view: fields slack_sdk does not know")
        for key in ("title", "submit", "close"):
            if key in payload or (key == "title" and view_type == "modal"):
                text(payload.get(key), f"view {key}", plain=True)
        has_input = any(b.get("type") == "input" for b in blocks)
        check("submit" in payload or not has_input, "view: a modal with inputs needs submit")
    for n, b in enumerate(blocks):
        block(b, f"block {n} ({b.get('type')})", view_type)
    check(len(block_ids) == len(set(block_ids)), "block_ids unique")
    check(all(len(ids) == len(set(ids)) for ids in action_ids), "action_ids unique in each block")
    if view_type is not None:
        in_view = [action_id for ids in action_ids for action_id in ids]
        check(len(in_view) == len(set(in_view)), "action_ids unique in the view")
    return problems
