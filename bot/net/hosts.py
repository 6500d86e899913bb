"""Hosts and addresses: host names and IP addresses compared in one canonical form, and which
addresses are public."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

# A DNS name: dot-separated labels of letters, digits, "-" and "_" (intranet names use it).
_HOST_NAME = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)(\.(?!-)[a-z0-9_-]{1,63}(?<!-))*\.?")
# A last label inet_aton reads as a number: `127.1`, `0x7f.1` and `2130706433` are addresses.
_NUMBER = re.compile(r"(0x[0-9a-f]*|[0-9]+)\.?")


def private_hosts(hosts: Iterable[str]) -> frozenset[str]:
    """Host names and IP addresses as the fetch rule compares them with a URL's host: names in lower
    case without a trailing dot, IP addresses in their canonical form (IPv6 with or without
    brackets). Raises ValueError naming an entry that is neither a host name nor an IP address;
    what comes before an "@" in it (credentials of a URL given by mistake) is not repeated.
    """
    normalised = set()
    for host in hosts:
        key = host_key(host.strip())
        if not key or not (is_ip(key) or is_name(key)):
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


def is_name(host: str) -> bool:
    """A DNS name in lower-case ASCII (IDNA-encoded), up to 253 characters, whose last label is
    not a number."""
    last = host.rstrip(".").rpartition(".")[2]
    return len(host) <= 254 and bool(_HOST_NAME.fullmatch(host)) and not _NUMBER.fullmatch(last)


def is_public(address: str) -> bool:
    """True for an address on the public internet. Loopback, private, link-local (cloud
    metadata), shared (CGNAT), multicast, reserved and documentation ranges are not; nor is an
    IPv6 address that leads to an IPv4 one that is not (IPv4-mapped, 6to4)."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is not None:
            return is_public(str(embedded))
        if ip.is_site_local:
            return False
    return ip.is_global and not ip.is_multicast and not ip.is_reserved
