"""Getting the images people share in Slack, safely.

Slack's file URLs are private: the bot fetches them with its bot token, through bot.net.fetch (the
one way this app fetches a URL: every hop read once, its host resolved once and checked). The
token goes only to Slack's own file hosts over HTTPS, or to the origin of ``SLACK_API_URL`` (which
receives the token on every Web API call anyway; that is how a local Slack emulator serves files
in tests), judged at each hop on the URL connected to: a hop off Slack is fetched without it.

Every reason a file is not analysed is a :class:`FileSkipped` whose text is a short sentence for
users, shown next to the file's name in the reply. Tokens never appear in it.
"""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import Iterable, Mapping
from typing import Any

from bot.net.fetch import (
    Fetcher,
    FetchError,
    Reply,
    TooLarge,
    TooManyRedirects,
    TooSlow,
)
from bot.net.urls import BadUrl, Location, parse

logger = logging.getLogger(__name__)

THUMB_MAX_PX = 1024
THUMB_SIZES = (1024, 960, 800, 720, 480, 360, 160, 80, 64)
# Slack's file and API hosts (commercial and GovSlack): the domain itself or any subdomain.
SLACK_FILE_DOMAINS = ("slack.com", "slack-edge.com", "slack-files.com", "slack-gov.com")
# Formats decoded as they are; others (HEIC, TIFF...) go through Slack's thumbnails.
WEB_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp"})
NO_ACCESS = "Slack would not give me the file; check the app has the files:read scope"

SlackFile = Mapping[str, Any]


class FileSkipped(Exception):
    """A shared file the bot does not analyse; ``str(e)`` is a short reason for users."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def needs_file_info(file: SlackFile) -> bool:
    """True for a Slack Connect stub (``"file_access": "check_file_info"``).

    Its details come from ``files.info``, which the caller calls before anything else.
    """
    return file.get("file_access") == "check_file_info"


def image_files(files: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The files of a message worth trying as images, in order.

    Kept: files whose mimetype is ``image/*``, and files whose type Slack does not tell yet
    (Slack Connect stubs, files still being scanned, files hidden by the plan's limit or deleted)
    unless their name says they are something else, so that the reply can say why they were
    skipped. Other files are dropped.
    """
    return [file for file in files if _may_be_image(file)]


def _may_be_image(file: SlackFile) -> bool:
    mimetype = file.get("mimetype")
    if mimetype:
        return str(mimetype).startswith("image/")
    guessed, _ = mimetypes.guess_type(str(file.get("name") or ""))
    return guessed is None or guessed.startswith("image/")


def pick_rendition(file: SlackFile) -> str:
    """The URL to download: the largest thumbnail no bigger than 1024 px, else the original.

    Only the resized thumbnails (those with ``thumb_N_w``/``thumb_N_h``) count; the small square
    crops (``thumb_64``, ``thumb_80``...) would lose most of the picture. When the original itself
    fits in 1024 px and is a common web format, it is taken instead: the full-quality version of
    the same size.
    """
    original = file.get("url_private_download") or file.get("url_private")
    fits = _fits(file.get("original_w"), file.get("original_h"))
    if original and fits and file.get("mimetype") in WEB_IMAGE_TYPES:
        return str(original)
    for size in THUMB_SIZES:
        url = file.get(f"thumb_{size}")
        if url and _fits(file.get(f"thumb_{size}_w"), file.get(f"thumb_{size}_h")):
            return str(url)
    if original:
        return str(original)
    raise FileSkipped("Slack gave no link to download it")


def _fits(width: object, height: object) -> bool:
    try:
        return 0 < int(str(width)) <= THUMB_MAX_PX and 0 < int(str(height)) <= THUMB_MAX_PX
    except ValueError:
        return False


def format_size(size: int) -> str:
    """A byte count the way people read it: "870 kB", "12.3 MB"."""
    if round(size / 1_000) >= 1_000:
        return f"{size / 1_000_000:.1f}".removesuffix(".0") + " MB"
    if size >= 1_000:
        return f"{size / 1_000:.0f} kB"
    return f"{size} bytes"


def file_fetcher(slack_api_url: str, private_hosts: Iterable[str] = ()) -> Fetcher:
    """The Fetcher that Slack downloads share: public addresses, SLACK_API_URL's host wherever it
    points (it gets the token on every Web API call; a local Slack emulator in tests), and the
    operator's `private_hosts` (LOCAL_API_ALLOW_PRIVATE_HOSTS), which a redirect off Slack may
    lead to like any link."""
    return Fetcher(private_hosts={*private_hosts, parse(slack_api_url).host})


class SlackFileDownloader:
    """Downloads shared image files with the bot token through `fetcher` (see file_fetcher):
    every hop checked, the token only to Slack, the size capped.

    Thread-safe for concurrent ``download`` calls.
    """

    def __init__(
        self,
        token: str,
        *,
        slack_api_url: str,
        max_bytes: int,
        fetcher: Fetcher,
        timeout: float = 10.0,
    ) -> None:
        api = parse(slack_api_url)
        self._token = token
        self._api_origin = (api.scheme, api.host, api.port)
        self.max_bytes = max_bytes
        self.timeout = timeout
        self._fetcher = fetcher

    def __repr__(self) -> str:
        return f"SlackFileDownloader(max_bytes={self.max_bytes}, timeout={self.timeout})"

    def may_send_token(self, location: Location) -> bool:
        """True when a request to ``location`` may carry the bot token: Slack's hosts over HTTPS
        on the default port, or SLACK_API_URL's origin."""
        if (location.scheme, location.host, location.port) == self._api_origin:
            return True
        host = location.host
        return (location.scheme, location.port) == ("https", 443) and any(
            host == domain or host.endswith("." + domain) for domain in SLACK_FILE_DOMAINS
        )

    def download(self, file: SlackFile) -> bytes:
        """The bytes of the best rendition of ``file`` (see :func:`pick_rendition`).

        Raises FileSkipped with a reason for users; ValueError for a Slack Connect stub, which the
        caller resolves with ``files.info`` first (see :func:`needs_file_info`).
        """
        if needs_file_info(file):
            raise ValueError("resolve Slack Connect file stubs with files.info before downloading")
        mode = file.get("mode")
        if mode == "tombstone":
            raise FileSkipped("it was deleted")
        if mode == "hidden_by_limit":
            raise FileSkipped("it is hidden by this workspace's file storage limit")
        mimetype = file.get("mimetype")
        if not mimetype:
            raise FileSkipped("Slack is still processing it; try again in a minute")
        if not str(mimetype).startswith("image/"):
            raise FileSkipped(f"not an image ({mimetype})")
        url = pick_rendition(file)
        declared = file.get("size")
        if url in (file.get("url_private"), file.get("url_private_download")) and (
            isinstance(declared, int) and declared > self.max_bytes
        ):
            raise FileSkipped(self._too_large(format_size(declared)))
        try:
            location: Location | None = parse(url)
        except BadUrl:
            location = None
        if location is None or not self.may_send_token(location):
            raise FileSkipped("its link does not point to Slack")
        try:
            return self._fetcher.fetch(
                url,
                max_bytes=self.max_bytes,
                timeout=self.timeout,
                headers=self._headers,
                accept=_image,
            )
        except TooLarge as exc:
            raise FileSkipped(
                self._too_large(format_size(exc.size) if exc.size else None)
            ) from None
        except TooSlow:
            raise FileSkipped("could not be downloaded (Slack did not answer in time)") from None
        except TooManyRedirects:
            raise FileSkipped("could not be downloaded (too many redirects)") from None
        except FetchError as exc:
            logger.info("a Slack file was not downloaded: %s", exc)
            raise FileSkipped("could not be downloaded (connection failed)") from None

    def _headers(self, location: Location) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"} if self.may_send_token(location) else {}

    def _too_large(self, size: str | None) -> str:
        limit = f"limit {format_size(self.max_bytes)}"
        return f"too large ({size}, {limit})" if size else f"too large ({limit})"


def _image(reply: Reply) -> None:
    """Slack's answer is an image to read, or the reason it is not."""
    if reply.status in (401, 403):
        raise FileSkipped(NO_ACCESS)
    if reply.status == 404:
        raise FileSkipped("it is no longer on Slack")
    if reply.status != 200:
        raise FileSkipped(f"could not be downloaded (HTTP {reply.status})")
    content_type = reply.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type == "text/html":
        # Slack's answer to a missing or refused token: 200 and its login page.
        raise FileSkipped(NO_ACCESS)
    if not content_type.startswith("image/"):
        raise FileSkipped(f"Slack sent {content_type or 'something'} instead of an image")


# What a job keeps of a Slack file object: what it takes to pick, download and name the image.
# Slack's objects also carry who shared it, where, previews and permalinks: none goes on the queue.
_KEPT = frozenset(
    {"id", "name", "title", "mimetype", "size", "mode", "file_access", "original_w", "original_h"}
    | {"url_private", "url_private_download"}
)


def kept(file: SlackFile) -> dict[str, Any]:
    """The file object with only what a job needs of it (see _KEPT, and the resized thumbnails)."""
    return {
        key: value
        for key, value in file.items()
        if key in _KEPT or (key.startswith("thumb_") and key.split("_")[1].isdigit())
    }
