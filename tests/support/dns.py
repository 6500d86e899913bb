"""A DNS server as an attacker runs it, for names under `.test`: each name answers from its list in
turn (then the last again), so an answer can change between two lookups (DNS rebinding)."""

from __future__ import annotations

import socket
from collections.abc import Mapping, Sequence
from typing import Any


class Dns:
    """`resolve` is a resolver to inject (bot.net.fetch's); `getaddrinfo` stands in for
    socket.getaddrinfo (monkeypatched), where other names go to the system's resolver and a str
    host is IDNA-2003-encoded first, as getaddrinfo does. `asked` lists the names looked up."""

    def __init__(self, answers: Mapping[str, Sequence[Sequence[str]]] | None = None) -> None:
        self._answers = {name: list(found) for name, found in (answers or {}).items()}
        self._system = socket.getaddrinfo
        self.asked: list[str] = []

    def resolve(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        answers = self._answers.get(host)
        if not answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return list(answers.pop(0) if len(answers) > 1 else answers[0])

    def getaddrinfo(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        name = name.encode("idna").decode().lower().rstrip(".")
        if not name.endswith(".test"):
            return self._system(host, port, *args, **kwargs)
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, int(port or 0), 0, 0))
            if ":" in address
            else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, int(port or 0)))
            for address in self.resolve(name, int(port or 0))
        ]
