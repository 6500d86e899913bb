"""Slack's published rate limits, enforced once a test asks (:meth:`RateLimits.enforce_rate_limits`).

Per app and workspace (docs.slack.dev, "Rate limits"):

- each method its tier, from its spec (``rate_limits`` in
  ``contracts/slack/specs/methods/<method>.json``): Tier 1 one call a minute, Tier 2 20, Tier 3 50,
  Tier 4 100; special methods (``t5``: auth.test, oauth.v2.access) are not limited here;
- chat.postMessage: "1 per second per channel, with short bursts": here at most 3 in any 3 seconds
  in a channel;
- conversations.history and conversations.replies for an app distributed outside the Marketplace
  (since 2025-05-29; ``marketplace=False``, the default): one call a minute, and ``limit`` at most
  15 (its default too).

Each limit is a moving window on the emulator's clock (:meth:`advance_clock` moves it). A call
beyond it does not run: it is answered 429 with ``Retry-After`` (whole seconds until the window has
room) and ``{"ok": false, "error": "ratelimited"}``, and recorded like any call.
"""

from __future__ import annotations

import math
from collections import deque

from tests.support.slack_emulator.arguments import JsonDict, int_arg
from tests.support.slack_emulator.core import EmulatorCore
from tests.support.slack_emulator.faults import Answered

TIER_CALLS = {"t1": 1, "t2": 20, "t3": 50, "t4": 100}  # a minute
POST_BURST = 3  # chat.postMessage: at most this many in a channel in as many seconds
HISTORY = ("conversations.history", "conversations.replies")
HISTORY_LIMIT = 15  # messages, for an app outside the Marketplace


class RateLimits(EmulatorCore):
    def _set_up(self) -> None:
        super()._set_up()
        self.rate_limits = False
        self.marketplace = False
        self._windows: dict[tuple[str, ...], deque[float]] = {}

    def enforce_rate_limits(self, *, marketplace: bool = False) -> None:
        """From now on, answer calls beyond Slack's limits with 429; ``marketplace``: the app is
        listed in the Slack Marketplace (conversations.history/replies at Tier 3)."""
        with self._lock:
            self.rate_limits = True
            self.marketplace = marketplace

    def _api(
        self,
        method: str,
        args: JsonDict,
        token: str | None,
        client: tuple[str, str] | None = None,
    ) -> Answered:
        team = self._token_team(token)
        if self.rate_limits and team is not None:
            wait = self._over_limit(team, method, args)
            if wait is not None:
                headers = {"Retry-After": str(max(1, math.ceil(wait)))}
                return 429, {"ok": False, "error": "ratelimited"}, headers
            if method in HISTORY and not self.marketplace:
                args = {**args, "limit": min(int_arg(args, "limit", HISTORY_LIMIT), HISTORY_LIMIT)}
        return super()._api(method, args, token, client)

    def _window(self, method: str, args: JsonDict) -> tuple[int, float, tuple[str, ...]] | None:
        """The limit a call counts in: (calls, in seconds, per what), or None."""
        if method == "chat.postMessage":
            return POST_BURST, float(POST_BURST), (str(args.get("channel")),)
        if method in HISTORY:
            return (TIER_CALLS["t3"], 60.0, ()) if self.marketplace else (1, 60.0, ())
        tier = self._specs.get(method, {}).get("rate_limits")
        return (TIER_CALLS[tier], 60.0, ()) if tier in TIER_CALLS else None

    def _over_limit(self, team: str, method: str, args: JsonDict) -> float | None:
        """None when the call fits in its window (and now counts in it), else the seconds until
        the window has room."""
        limit = self._window(method, args)
        if limit is None:
            return None
        calls, seconds, per = limit
        now = self.now()
        with self._lock:
            window = self._windows.setdefault((team, method, *per), deque())
            while window and window[0] <= now - seconds:
                window.popleft()
            if len(window) >= calls:
                return window[0] + seconds - now
            window.append(now)
        return None
