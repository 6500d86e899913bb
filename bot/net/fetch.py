"""Downloading `url` images: http(s) only, size-capped while streaming, with an overall deadline,
and (unless told otherwise) only from public addresses or the private hosts an operator allows."""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Iterable
from urllib.parse import urljoin, urlsplit

import requests
import urllib3

from bot.net.hosts import host_key, private_hosts

MAX_REDIRECTS = 5
_CHUNK_BYTES = 64 * 1024


class DownloadError(Exception):
    """The image could not be fetched; `str(e)` is a short reason (never the URL, which may
    carry credentials in its query)."""


def too_large(max_bytes: int) -> str:
    """Why an image over the size limit was refused."""
    return f"larger than {max_bytes} bytes"


def download(
    session: requests.Session,
    url: str,
    *,
    max_bytes: int,
    timeout: float,
    private_urls: bool = False,
    allowed_private_hosts: Iterable[str] = (),
) -> bytes:
    """The body of a 2xx answer to GET `url`, or DownloadError.

    The URL comes from whoever calls the API (through the bot: any Slack user), and this process
    fetches it: with `private_urls=False` a URL whose host resolves to any loopback, private,
    link-local (cloud metadata) or otherwise non-public address is refused before connecting,
    so the API cannot be used to probe the network it runs in. The exceptions are the hosts in
    `allowed_private_hosts` (names or IP addresses, see `private_hosts`), such as a company's
    intranet image server: a URL whose host is one of them is fetched wherever it points.
    Redirects are followed here, up to MAX_REDIRECTS, and every hop is checked like the first.
    A host whose DNS answer changes between the check and the connection (DNS rebinding) is not
    caught.

    `timeout` bounds both each socket operation and the whole transfer, so a server that
    trickles bytes cannot hold a worker for longer.
    """
    allowed = private_hosts(allowed_private_hosts)
    deadline = time.monotonic() + timeout
    try:
        for _ in range(MAX_REDIRECTS + 1):
            _check(url, private_urls, allowed)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _too_slow(timeout)
            with session.get(
                url, stream=True, timeout=remaining, allow_redirects=False
            ) as response:
                target = session.get_redirect_target(response)
                if target is None:
                    return _read(response, max_bytes, deadline, timeout)
            url = urljoin(url, target)
    except (requests.Timeout, urllib3.exceptions.TimeoutError):
        raise _too_slow(timeout) from None
    except requests.exceptions.SSLError:
        raise DownloadError("a secure (TLS) connection to its server failed") from None
    except requests.ConnectionError:
        raise DownloadError("could not connect to its server") from None
    except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
        raise DownloadError(f"could not fetch it ({type(exc).__name__})") from None
    except ValueError:  # from urlsplit or urljoin: a malformed URL or redirect Location
        raise DownloadError("not a valid URL") from None
    raise DownloadError(f"redirected more than {MAX_REDIRECTS} times")


def _check(url: str, private_urls: bool, allowed: frozenset[str]) -> None:
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise DownloadError("only http and https URLs can be fetched")
    if private_urls:
        return
    host = parts.hostname
    if not host:
        raise DownloadError("could not resolve its host")
    if host_key(host) in allowed:
        return
    try:
        found = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):  # UnicodeError: a name IDNA cannot encode
        raise DownloadError("could not resolve its host") from None
    # Every address, not just the first: the connection may use any of them.
    if not all(ipaddress.ip_address(info[4][0]).is_global for info in found):
        raise DownloadError("it points at a private or local address")


def _read(response: requests.Response, max_bytes: int, deadline: float, timeout: float) -> bytes:
    if not 200 <= response.status_code < 300:
        raise DownloadError(f"the image server answered HTTP {response.status_code}")
    declared = response.headers.get("Content-Length", "")
    if declared.isdecimal() and int(declared) > max_bytes:
        raise DownloadError(too_large(max_bytes))
    chunks: list[bytes] = []
    size = 0
    # read1 returns whatever has arrived, where iter_content would wait for a whole chunk:
    # the deadline is checked at least once per socket timeout.
    while chunk := response.raw.read1(_CHUNK_BYTES, decode_content=True):
        size += len(chunk)
        if size > max_bytes:
            raise DownloadError(too_large(max_bytes))
        if time.monotonic() > deadline:
            raise _too_slow(timeout)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_slow(timeout: float) -> DownloadError:
    return DownloadError(f"took longer than {timeout:g} s")
