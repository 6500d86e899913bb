"""Downloading `url` images: http(s) only, size-capped while streaming, with an overall deadline."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import requests
import urllib3

_CHUNK_BYTES = 64 * 1024


class DownloadError(Exception):
    """The image could not be fetched; `str(e)` is a short reason (never the URL, which may
    carry credentials in its query)."""


def download(session: requests.Session, url: str, *, max_bytes: int, timeout: float) -> bytes:
    """The body of a 2xx answer to GET `url`, or DownloadError.

    `timeout` bounds both each socket operation and the whole transfer, so a server that
    trickles bytes cannot hold a worker for longer.
    """
    if urlsplit(url).scheme.lower() not in ("http", "https"):
        raise DownloadError("only http and https URLs can be fetched")
    deadline = time.monotonic() + timeout
    chunks: list[bytes] = []
    size = 0
    try:
        with session.get(url, stream=True, timeout=timeout) as response:
            if not 200 <= response.status_code < 300:
                raise DownloadError(f"the image server answered HTTP {response.status_code}")
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise DownloadError(f"larger than {max_bytes} bytes")
            # read1 returns whatever has arrived, where iter_content would wait for a whole
            # chunk: the deadline is checked at least once per socket timeout.
            while chunk := response.raw.read1(_CHUNK_BYTES, decode_content=True):
                size += len(chunk)
                if size > max_bytes:
                    raise DownloadError(f"larger than {max_bytes} bytes")
                if time.monotonic() > deadline:
                    raise DownloadError(f"took longer than {timeout:g} s")
                chunks.append(chunk)
    except (requests.Timeout, urllib3.exceptions.TimeoutError):
        raise DownloadError(f"took longer than {timeout:g} s") from None
    except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
        raise DownloadError(f"could not fetch it ({type(exc).__name__})") from None
    return b"".join(chunks)
