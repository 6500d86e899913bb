"""The one logging set-up of every `python -m bot` process: a line per record on stderr, safe to
keep whatever came in from outside.

- **Secrets are redacted** in every record, at every level, from every logger (Bolt, slack_sdk, redis,
  uvicorn...): Slack's tokens by their shape (`xoxb-`, `xoxp-`, `xoxa-`, `xoxr-`, `xoxe-` and
  rotated `xoxe.xoxb-`, app-level `xapp-`), the values of `token`, `client_secret`,
  `refresh_token`... fields (slack_sdk logs `oauth.v2.access`'s request and answer at DEBUG), and the
  configured secrets themselves (signing secret, client secrets, API secret).
- **A record is one line**: control characters in its message (a newline in a request body would
  start a forged record) are escaped. A traceback keeps its lines, but each after the first is
  indented, so every line that starts with a timestamp is a record the bot wrote.

It works on the formatted text, in the one handler on the root logger, so no library can log around
it (libraries' loggers propagate to the root; the process adds no other handler).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable
from dataclasses import fields

from bot.config import Settings

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
REDACTED = "[redacted]"
# Shortest configured value redacted by its value: shorter ones would blank out ordinary words.
MIN_SECRET_LENGTH = 8

_TOKENS = re.compile(r"\b(xox[abpre]|xoxe\.xox[bp]|xapp)-[0-9A-Za-z-]+")
# `name: value`, `'name': 'value'`, `"name": "value"` and `name=value` (a form or a query string).
_FIELDS = re.compile(
    r"""(?P<name>\b(?:client_secret|signing_secret|refresh_token|access_token|bot_token|token)"""
    r"""['"]?\s*[:=]\s*['"]?)(?P<value>[^'"&\s,;})\]]+)"""
)
# C0 and C1 controls, DEL, and the Unicode line and paragraph separators.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _escape(char: re.Match[str]) -> str:
    code = ord(char.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def one_line(text: str) -> str:
    """`text` with its control characters escaped (`\\n` becomes the two characters `\\x0a`)."""
    return _CONTROL.sub(_escape, text)


class SafeFormatter(logging.Formatter):
    """FORMAT, with secrets redacted and every record kept to its own line(s)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__(FORMAT)
        ordered = sorted({s for s in secrets if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True)
        self._secrets = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = one_line(record.message)
        return super().formatMessage(record)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        head, newline, rest = text.partition("\n")
        if newline:  # a traceback or a stack: its own lines, each indented under the record
            text = head + "\n" + "\n".join("    " + one_line(line) for line in rest.split("\n"))
        return self.redact(text)

    def redact(self, text: str) -> str:
        if self._secrets is not None:
            text = self._secrets.sub(REDACTED, text)
        text = _FIELDS.sub(lambda m: m.group("name") + REDACTED, text)
        return _TOKENS.sub(lambda m: f"{m.group(1)}-{REDACTED}", text)


def configured_secrets(settings: Settings) -> list[str]:
    """The secret values among the settings: those kept out of their repr."""
    values = (getattr(settings, f.name) for f in fields(settings) if not f.repr)
    return [value for value in values if isinstance(value, str)]


def set_up_logging(level: str | int, settings: Settings | None = None) -> None:
    """Log records at `level` and above to stderr, through SafeFormatter. As logging.basicConfig,
    nothing changes when the root logger already has a handler (a test runner's)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(SafeFormatter(configured_secrets(settings) if settings else ()))
    logging.basicConfig(level=level, handlers=[handler])
