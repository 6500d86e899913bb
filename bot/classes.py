"""`all`: every class the embedded detector knows, asked for with one word.

`DETECT_CLASSES=all`, `/detect all` and `python -m bot detect --classes all` keep the word as the
request's classes; the API is sent the whole class table (`for_api`), and the answer lists what was
found, best first, without the classes that were not. A hosted account has its own class list,
which the bot does not know: there `all` is refused with `NEEDS_EMBEDDED`.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.localapi.vocabulary import CLASS_NAMES

ALL = "all"
NEEDS_EMBEDDED = (
    "`all` means every class of the embedded detector; with a hosted API account "
    "(II_CLIENT_ID), name the classes to look for"
)


def checked(classes: Sequence[str]) -> tuple[str, ...]:
    """The classes as given; ValueError when `all` comes with others."""
    if ALL in classes and len(classes) > 1:
        raise ValueError("`all` already means every class: give it alone")
    return tuple(classes)


def everything(classes: Sequence[str]) -> bool:
    return tuple(classes) == (ALL,)


def for_api(classes: Sequence[str]) -> tuple[str, ...]:
    """The classes to send the API."""
    return CLASS_NAMES if everything(classes) else tuple(classes)
