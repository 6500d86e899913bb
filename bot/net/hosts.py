"""Which hosts a URL may be fetched from: host names and IP addresses compared in one canonical form."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

# A DNS name: dot-separated labels of letters, digits, "-" and "_" (intranet names use it).
_HOST_NAME = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)(\.(?!-)[a-z0-9_-]{1,63}(?<!-))*\.?")


def private_hosts(hosts: Iterable[str]) -> frozenset[str]:
    """Host names and IP addresses as `download` compares them with a URL's host: names in lower
    case without a trailing dot, IP addresses in their canonical form (IPv6 with or without
    brackets). Raises ValueError naming an entry that is neither a host name nor an IP address;
    what comes before an "@" in it (credentials of a URL given by mistake) is not repeated.
    """
    normalised = set()
    for host in hosts:
        key = host_key(host.strip())
        if not key or not (is_ip(key) or _HOST_NAME.fullmatch(key)):
            shown = f"...@{host.rpartition('@')[2]}" if "@" in host else host
            raise ValueError(f"{shown!r} is not a host name or an IP address")
        normalised.add(key)
    return frozenset(normalised)


def host_key(host: str) -> str:
    host = host.lower().rstrip(".")
    address = host.removeprefix("[").removesuffix("]")
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return host


def is_ip(key: str) -> bool:
    try:
        ipaddress.ip_address(key)
    except ValueError:
        return False
    return True
