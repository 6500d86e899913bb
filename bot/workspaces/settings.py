"""Each workspace's own settings, set by its admins in the App Home: they override the environment's
defaults (DETECT_CLASSES, AUTO_DETECT, ANNOTATE, ALLOWED_CHANNELS) for that workspace."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from bot.config import Settings


@dataclass(frozen=True)
class WorkspaceSettings:
    """What a workspace's admins chose; None keeps the environment's default."""

    classes: tuple[str, ...] | None = None
    auto_detect: bool | None = None  # False: only uploads that mention the bot
    annotate: bool | None = None
    allowed_channels: frozenset[str] | None = None  # empty: every channel

    def apply(self, settings: Settings) -> Settings:
        """The settings the bot uses in this workspace."""
        chosen = {
            "detect_classes": self.classes,
            "auto_detect": self.auto_detect,
            "annotate": self.annotate,
            "allowed_channels": self.allowed_channels,
        }
        return dataclasses.replace(settings, **{k: v for k, v in chosen.items() if v is not None})
