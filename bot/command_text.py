"""Parse the text of `/detect [IMAGE_URL ...] [CLASS ...]`, `/detect help` and `/detect job JOB_ID`.

Words that are http(s) links are images; Slack may send them wrapped as `<https://...>` or
`<https://...|label>`. The other words are classes, separated by commas when there are any (so
`coffee cup, person` names two classes) and by spaces otherwise; `all` (alone) asks for every class
the embedded detector knows. Anything that looks like an option
(`-x`, `--all`) or a link of another scheme is a usage error, named in the message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.imageintelligence.contract import JOB_ID, MAX_URL_LENGTH
from bot.vocabulary import parse_classes

# Links one /detect may carry: as many files as one Slack message may. Each is fetched by the
# embedded API (or the hosted one) for whoever typed them; more would let one command hold the
# API's link threads for longer without giving anyone more than a message of images.
MAX_LINKS = 10


class CommandError(ValueError):
    """The command text is wrong; the message says how, in a sentence for the user."""


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class LookUpJob:
    job_id: str


@dataclass(frozen=True)
class Detect:
    urls: tuple[str, ...]
    classes: tuple[str, ...]  # empty: use the configured default


Command = Help | LookUpJob | Detect

_WRAPPED = re.compile(r"^<([^|>]+)(?:\|[^>]*)?>$")
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):(//)?")


def parse(text: str) -> Command:
    words = text.split()
    if not words:
        return Detect(urls=(), classes=())
    if len(words) == 1 and words[0].lower() in ("help", "-h", "--help"):
        return Help()
    if words[0].lower() == "job":
        if len(words) != 2 or not JOB_ID.fullmatch(words[1]):
            raise CommandError("`/detect job` takes one job id, e.g. `/detect job 3f2a…`.")
        return LookUpJob(words[1])

    urls: list[str] = []
    rest: list[str] = []
    for word in words:
        url = _link(word)
        if url is None:
            rest.append(word)
        else:
            urls.append(url)
    if len(urls) > MAX_LINKS:
        raise CommandError(
            f"That is {len(urls)} links; I can look at {MAX_LINKS} at a time at most."
        )
    return Detect(urls=tuple(urls), classes=_classes(rest))


def _link(word: str) -> str | None:
    """The URL in `word`, None if it is not a link; CommandError for links I must not take."""
    wrapped = _WRAPPED.match(word)
    candidate = wrapped.group(1) if wrapped else word
    if wrapped and candidate[:1] in ("@", "#", "!"):
        raise CommandError(f"`{word}` is a mention, not an image link or a class.")
    scheme = _SCHEME.match(candidate)
    if scheme is None or (not scheme.group(2) and not wrapped):
        return None
    if scheme.group(1).lower() not in ("http", "https"):
        raise CommandError(
            f"`{_short(candidate)}` is not an http(s) link; I only take http(s) images."
        )
    if len(candidate) > MAX_URL_LENGTH:
        raise CommandError(
            f"A link is {len(candidate)} characters long; the API takes {MAX_URL_LENGTH} at most."
        )
    return candidate


def _classes(words: list[str]) -> tuple[str, ...]:
    for word in words:
        if word.startswith("-"):
            raise CommandError(f"`{_short(word)}` looks like an option, and `/detect` takes none.")
    if not words:
        return ()
    try:
        return parse_classes(" ".join(words), words=True)
    except ValueError as problem:
        raise CommandError(f"{str(problem)[0].upper()}{str(problem)[1:]}.") from None


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
