"""Block Kit primitives and Slack's limits, in one copy for every message and view of the bot.

Each builder clips its text to the limit of the field it fills, so the messages and views built from
them never break a limit (docs.slack.dev/reference/block-kit, .../reference/views). mrkdwn is clipped
without cutting an entity such as `&amp;` in two; user-provided text must go through `escape` first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

MAX_MESSAGE_BLOCKS = 50
MAX_TEXT = 3000  # section text, context element text; also our cap for a message's fallback text
MAX_HEADER = 150
MAX_VIEW_TITLE = 24  # a modal's title, submit and close
MAX_LABEL = 2000  # an input block's label and hint
MAX_PLACEHOLDER = 150
MAX_OPTION_TEXT = 75  # an option's text, a button's text
MAX_OPTION_VALUE = 150
MAX_OVERFLOW_OPTIONS = 5
MAX_SELECT_OPTIONS = 100


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn gives a meaning to (`<@U1>`, `<!here>`, ...)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    """Cut text to `limit` characters, ending with "…", never inside an entity such as `&amp;`."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"


def fit(parts: Sequence[str], sep: str, limit: int) -> str:
    """Join as many parts as fit in `limit` characters and say how many were left out."""
    joined = sep.join(parts)
    if len(joined) <= limit:
        return joined
    room = limit - len(f"{sep}…and {len(parts)} more")
    kept: list[str] = []
    length = -len(sep)
    for part in parts:
        if length + len(sep) + len(part) > room:
            break
        kept.append(part)
        length += len(sep) + len(part)
    kept = kept or [clip(parts[0], room)]
    left = len(parts) - len(kept)
    return sep.join(kept) + (f"{sep}…and {left} more" if left else "")


def names(items: Sequence[str]) -> str:
    """User-provided names, escaped, as a comma-separated list."""
    return ", ".join(escape(item) for item in items)


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def plain(text: str, limit: int = MAX_OPTION_TEXT) -> dict[str, Any]:
    """A plain_text object: option and button texts by default; pass the limit of other fields.
    Emoji codes stay as typed, since class names come from users."""
    return {"type": "plain_text", "text": clip(text, limit), "emoji": False}


def option(text: str, value: str) -> dict[str, Any]:
    """An option of a menu or of radio buttons; `value` must fit in MAX_OPTION_VALUE."""
    return {"text": plain(text), "value": value}


def button(
    action_id: str, text: str, *, value: str | None = None, style: str | None = None
) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "button", "action_id": action_id, "text": plain(text)}
    if value is not None:
        element["value"] = value
    if style is not None:
        element["style"] = style
    return element


def section(mrkdwn: str, accessory: dict[str, Any] | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "section",
        "text": {"type": "mrkdwn", "text": clip(mrkdwn, MAX_TEXT)},
    }
    if accessory is not None:
        block["accessory"] = accessory
    return block


def context(mrkdwn: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(mrkdwn, MAX_TEXT)}]}


def header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": plain(text, MAX_HEADER)}


def message(text: str, blocks: list[dict[str, Any]]) -> dict[str, Any]:
    """A message for `chat.postMessage`, `chat.postEphemeral` or an ack: the fallback `text` (for
    notifications and clients without blocks) and the blocks."""
    return {"text": clip(text, MAX_TEXT), "blocks": blocks}


def notice(sentence: str, note: str | None = None, emoji: str = ":warning:") -> dict[str, Any]:
    """A one-sentence message, marked with `emoji`, and a smaller `note` under it when given."""
    blocks = [section(f"{emoji} {sentence}")]
    if note:
        blocks.append(context(note))
    return message(sentence if not note else f"{sentence} {note}", blocks)
