"""A Web API method's arguments read as Slack reads them, and the error a method answers with."""

from __future__ import annotations

import base64
import json
from typing import Any

JsonDict = dict[str, Any]


class SlackError(Exception):
    """Raised by a method implementation: answered as ``{"ok": false, "error": code}``."""

    def __init__(self, code: str, **extra: Any) -> None:
        super().__init__(code)
        self.code = code
        self.extra = extra


def json_arg(args: JsonDict, name: str) -> Any:
    """A structured argument: JSON bodies carry it as is, forms as a JSON string."""
    value = args.get(name)
    if isinstance(value, str) and value:
        try:
            return json.loads(value)
        except ValueError:
            raise SlackError(f"invalid_{name}_format") from None
    return value


def bool_arg(args: JsonDict, name: str) -> bool:
    """A boolean argument: JSON true, or "true"/"1" in a form (slack_sdk sends "1")."""
    return args.get(name) in (True, 1, "1", "true")


def int_arg(args: JsonDict, name: str, default: int) -> int:
    value = args.get(name)
    if value in (None, ""):
        return default
    try:
        return int(str(value))
    except ValueError:
        raise SlackError("invalid_arguments") from None


def cursor(offset: int) -> str:
    return base64.b64encode(f"next_offset:{offset}".encode()).decode()


def cursor_offset(args: JsonDict) -> int:
    cursor = args.get("cursor")
    if not cursor:
        return 0
    try:
        return int(base64.b64decode(str(cursor)).decode().split(":")[1])
    except (ValueError, IndexError):
        raise SlackError("invalid_cursor") from None
