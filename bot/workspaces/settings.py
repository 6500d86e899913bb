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
        return dataclasses.replace(
            settings,
            detect_classes=settings.detect_classes if self.classes is None else self.classes,
            auto_detect=settings.auto_detect if self.auto_detect is None else self.auto_detect,
            annotate=settings.annotate if self.annotate is None else self.annotate,
            allowed_channels=(
                settings.allowed_channels
                if self.allowed_channels is None
                else self.allowed_channels
            ),
        )
