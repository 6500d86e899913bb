"""The one way this app fetches a URL: Slack's files (with a workspace's token, bot.slack.files)
and the embedded API's `url` images (without one, bot.localapi.analysis).

At every hop, the first and each redirect alike:
- the URL is read once, by the rule of bot.net.urls (urllib3's parser, odd URLs refused);
- its host is resolved once, and unless the Fetcher allows it, every address must be public
  (bot.net.hosts.is_public): the API must not become a way into the network it runs in;
- the connection goes to an address so checked, never to a second answer of the resolver (DNS
  rebinding), with the host name kept for TLS (SNI and the certificate's name) and the Host
  header: the name encoded once, the way it was resolved;
- the caller's headers are asked for that Location, so a token goes only where the caller
  judges, on the URL actually connected to.
The body is read while streaming up to a size cap, and `timeout` bounds each socket operation
and the whole fetch, redirects included.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import certifi
import urllib3
from urllib3.exceptions import HTTPError, NewConnectionError, SSLError
from urllib3.exceptions import TimeoutError as Urllib3Timeout

from bot.net.hosts import host_key, is_ip, is_public
from bot.net.hosts import private_hosts as normalised_hosts
from bot.net.urls import BadUrl, Location, parse

MAX_REDIRECTS = 5
_CHUNK_BYTES = 64 * 1024
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_POOLS = 32  # hosts kept connected to (Slack's file hosts above all)
_CONNECTIONS = 10  # kept per host: the bot's job threads download at once

Resolver = Callable[[str, int], Sequence[str]]


def resolve(host: str, port: int) -> list[str]:
    """The addresses of `host`, from the system's resolver, in its order."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in found))


class FetchError(Exception):
    """The URL was not fetched. `str(e)` is the reason, for the log: it may name the host, never
    the URL (its query may hold credentials). Users are told less (see the callers)."""


class Refused(FetchError):
    """The URL, or a redirect, breaks the rule, or its host has an address not allowed."""


class TooManyRedirects(Refused):
    pass


class TooSlow(FetchError):
    pass


class TooLarge(FetchError):
    """`size` is the declared size, when the answer declared one."""

    def __init__(self, size: int | None) -> None:
        super().__init__("larger than allowed")
        self.size = size


@dataclass(frozen=True)
class Reply:
    """The final answer's status and headers (case-insensitive), before its body is read."""

    status: int
    headers: Mapping[str, str]


def success(reply: Reply) -> None:
    """The default `accept`: a 2xx answer."""
    if not 200 <= reply.status < 300:
        raise FetchError(f"HTTP {reply.status}")


def no_headers(location: Location) -> Mapping[str, str]:
    return {}


class Fetcher:
    """Fetches URLs by the rule above; thread-safe, with connections kept for reuse.

    `private_hosts` (names or IP addresses, see hosts.private_hosts) are fetched wherever they
    point, such as an intranet image server; `private_urls=True` lets every address through (tests
    and trusted callers). `resolve` and `ca_certs` (a CA bundle; default certifi's, as requests
    has) are for tests.
    """

    def __init__(
        self,
        *,
        private_hosts: Iterable[str] = (),
        private_urls: bool = False,
        resolve: Resolver = resolve,
        ca_certs: str | None = None,
    ) -> None:
        self._private_hosts = normalised_hosts(private_hosts)
        self._private_urls = private_urls
        self._resolve = resolve
        self._pools = urllib3.PoolManager(
            num_pools=_POOLS,
            maxsize=_CONNECTIONS,
            retries=False,
            cert_reqs="CERT_REQUIRED",
            ca_certs=ca_certs or certifi.where(),
        )

    def __repr__(self) -> str:
        return f"Fetcher(private_hosts={sorted(self._private_hosts)})"

    def close(self) -> None:
        self._pools.clear()

    def fetch(
        self,
        url: str,
        *,
        max_bytes: int,
        timeout: float,
        headers: Callable[[Location], Mapping[str, str]] = no_headers,
        accept: Callable[[Reply], None] = success,
    ) -> bytes:
        """The body of the answer to GET `url`, following redirects; FetchError if none.

        `headers(location)` gives the headers to send to each hop (after the rule let it
        through); `accept(reply)` raises (any exception, passed on) to refuse the final answer
        before its body is read. A body over `max_bytes` is TooLarge, read no further.
        """
        deadline = time.monotonic() + timeout
        try:
            location = parse(url)
            for _ in range(MAX_REDIRECTS + 1):
                response = self._open(location, headers, deadline)
                done = False
                try:
                    redirect = response.headers.get("Location")
                    if response.status in _REDIRECTS and redirect:
                        location = location.join(redirect)
                        continue
                    accept(Reply(response.status, response.headers))
                    body = _read(response, max_bytes, deadline)
                    done = True
                    return body
                finally:
                    if not done:
                        response.close()  # the rest is not read: the connection cannot be reused
                    response.release_conn()
        except BadUrl as exc:
            raise Refused(str(exc)) from None
        except NewConnectionError:
            raise FetchError(f"could not connect to {location.host}") from None
        except (Urllib3Timeout, TimeoutError):
            raise TooSlow(f"{location.host} took longer than {timeout:g} s") from None
        except SSLError:
            raise FetchError(f"no secure (TLS) connection to {location.host}") from None
        except (HTTPError, OSError) as exc:
            raise FetchError(f"{type(exc).__name__} from {location.host}") from None
        raise TooManyRedirects(f"more than {MAX_REDIRECTS} redirects")

    def addresses(self, location: Location) -> list[str]:
        """The addresses to connect to for `location`, resolved once and checked."""
        if is_ip(location.host):
            found = [location.host]
        else:
            try:
                found = list(self._resolve(location.host, location.port))
            except (OSError, UnicodeError):
                raise FetchError(f"could not resolve {location.host}") from None
            if not found:
                raise FetchError(f"could not resolve {location.host}")
        allowed = self._private_urls or host_key(location.host) in self._private_hosts
        # Every address, not just the first: the connection may use any of them.
        if not allowed and not all(is_public(address) for address in found):
            raise Refused(f"{location.host} has an address that is not public")
        return found

    def _open(
        self,
        location: Location,
        headers: Callable[[Location], Mapping[str, str]],
        deadline: float,
    ) -> urllib3.BaseHTTPResponse:
        *others, last = self.addresses(location)
        sent = {"Host": location.host_header, "Accept-Encoding": "identity", **headers(location)}
        for address in others:
            try:
                return self._request(location, address, sent, deadline)
            except NewConnectionError:
                continue
        return self._request(location, last, sent, deadline)

    def _request(
        self, location: Location, address: str, headers: Mapping[str, str], deadline: float
    ) -> urllib3.BaseHTTPResponse:
        remaining = _remaining(deadline)
        pool = self._pools.connection_from_host(
            address, location.port, location.scheme, pool_kwargs={"server_hostname": location.host}
        )
        return pool.urlopen(
            "GET",
            location.target,
            headers=dict(headers),
            redirect=False,
            retries=False,
            preload_content=False,
            assert_same_host=False,
            timeout=urllib3.Timeout(connect=remaining, read=remaining),
        )


def _read(response: urllib3.BaseHTTPResponse, max_bytes: int, deadline: float) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdecimal() and int(declared) > max_bytes:
        raise TooLarge(int(declared))
    chunks: list[bytes] = []
    size = 0
    while True:
        # Each read waits at most until the deadline: a server that trickles bytes is cut there.
        remaining = _remaining(deadline)
        connection = getattr(response, "connection", None)
        if connection is not None and connection.sock is not None:
            connection.sock.settimeout(remaining)
        chunk = response.read1(_CHUNK_BYTES)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > max_bytes:
            raise TooLarge(None)
        chunks.append(chunk)


def _remaining(deadline: float) -> float:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError("out of time")
    return remaining
