"""The URL rule: what a URL to fetch may look like, read once, by the parser that makes the
connection (urllib3's), so that the host checked is the host connected to.

Parsers disagree on odd URLs: `http://127.0.0.1:8080\\@1.1.1.1/` is 1.1.1.1 to `urlsplit` and
127.0.0.1 to urllib3; `%61.com` is `a.com` to urllib3 only; `0x7f000001` is an address to
`getaddrinfo` and a name to a check that compares names. Such URLs are refused rather than read one
way: a backslash, a space or a control character anywhere, userinfo or a percent sign (a zone id
too) in the authority, a host that is neither a DNS name nor a dotted IPv4 or bracketed IPv6
address, port 0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urljoin

import idna
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from bot.net.hosts import is_ip, is_name

DEFAULT_PORTS = {"http": 80, "https": 443}
# Backslashes, controls (C0, DEL, C1) and spaces: parsers drop, keep or translate them each its way.
_AMBIGUOUS = re.compile(r"[\\\x00-\x20\x7f-\x9f]")
# The authority as every parser splits it once backslashes are out: from "//" to "/", "?" or "#".
_AUTHORITY = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://([^/?#]*)")


class BadUrl(ValueError):
    """The URL breaks the rule; `str(e)` says how, without repeating the URL."""


@dataclass(frozen=True)
class Location:
    """Where one request goes, as read by the rule.

    `host` is lower-case ASCII: a DNS name with its labels IDNA-encoded (IDNA 2008, urllib3's
    encoding, done once: the same name is resolved, sent as SNI and as the Host header), or an IP
    address (IPv6 without brackets). `target` is the request line's path and query.
    """

    url: str
    scheme: str
    host: str
    port: int
    target: str

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"

    def join(self, reference: str) -> Location:
        """The Location a redirect to `reference` (relative or absolute) leads to."""
        _refuse_ambiguous(reference)
        return parse(urljoin(self.url, reference))


def parse(url: str) -> Location:
    """The URL's Location, or BadUrl."""
    _refuse_ambiguous(url)
    authority = _AUTHORITY.match(url)
    if authority is None:
        raise BadUrl("not an absolute URL")
    if "@" in authority.group(1):
        raise BadUrl("a user name or password in the URL")
    if "%" in authority.group(1):  # urllib3 decodes it in a host name; urlsplit does not
        raise BadUrl("a percent sign in the host")
    try:
        parts = parse_url(url)
    except LocationParseError:
        raise BadUrl("not a URL") from None
    scheme = (parts.scheme or "").lower()
    if scheme not in DEFAULT_PORTS:
        raise BadUrl("not an http or https URL")
    host = (parts.host or "").removeprefix("[").removesuffix("]")
    if not (is_ip(host) or is_name(host)):
        raise BadUrl("not a host name or an IP address")
    written = authority.group(1).rpartition(":")[0] or authority.group(1)
    if not written.isascii() and not _one_encoding(written, host):
        raise BadUrl("a host name that IDNA 2003 and 2008 encode differently")
    if parts.port == 0:
        raise BadUrl("port 0")
    return Location(
        url=url,
        scheme=scheme,
        host=host,
        port=parts.port or DEFAULT_PORTS[scheme],
        target=parts.request_uri,
    )


def _one_encoding(name: str, encoded: str) -> bool:
    """True when IDNA 2003 (Python's codec, what `socket.getaddrinfo` applies to a str) and UTS-46
    (what browsers and requests apply) encode `name` as urllib3 did (IDNA 2008): "straße" is
    "strasse" to the first and "xn--strae-oqa" to the others."""
    try:
        old = name.encode("idna").decode("ascii").lower()
        uts46 = idna.encode(name, uts46=True).decode("ascii")
    except (UnicodeError, idna.IDNAError):
        return False
    return old == uts46 == encoded


def _refuse_ambiguous(url: str) -> None:
    if _AMBIGUOUS.search(url):
        raise BadUrl("a backslash, a space or a control character in the URL")
