"""Each workspace's own settings, set by its admins in the App Home: their `Choices` override the
environment's defaults (DETECT_CLASSES, AUTO_DETECT, ANNOTATE, ALLOWED_CHANNELS) for that workspace, and
`WorkspaceSettings` is what then applies there. Where choices are kept: stores.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from bot.config import Settings


@dataclass(frozen=True)
class Choices:
    """What a workspace's admins chose; None keeps the environment's default."""

    classes: tuple[str, ...] | None = None
    auto_detect: bool | None = None  # False: only uploads that mention the bot
    annotate: bool | None = None
    allowed_channels: frozenset[str] | None = None  # empty: every channel

    def to_json(self) -> str:
        return json.dumps(
            {
                "classes": None if self.classes is None else list(self.classes),
                "auto_detect": self.auto_detect,
                "annotate": self.annotate,
                "allowed_channels": (
                    None if self.allowed_channels is None else sorted(self.allowed_channels)
                ),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Choices:
        data = json.loads(text)
        channels = data.get("allowed_channels")
        classes = data.get("classes")
        return cls(
            classes=None if classes is None else tuple(classes),
            auto_detect=data.get("auto_detect"),
            annotate=data.get("annotate"),
            allowed_channels=None if channels is None else frozenset(channels),
        )


@dataclass(frozen=True)
class WorkspaceSettings:
    """What applies in one workspace: its admins' choices over the environment's defaults."""

    detect_classes: tuple[str, ...]
    auto_detect: bool
    annotate: bool
    allowed_channels: frozenset[str]  # empty: every channel
    embedded: bool  # the embedded detector answers (no hosted API account)

    @classmethod
    def of(cls, choices: Choices, defaults: Settings) -> WorkspaceSettings:
        return cls(
            detect_classes=defaults.detect_classes if choices.classes is None else choices.classes,
            auto_detect=defaults.auto_detect
            if choices.auto_detect is None
            else choices.auto_detect,
            annotate=defaults.annotate if choices.annotate is None else choices.annotate,
            allowed_channels=(
                defaults.allowed_channels
                if choices.allowed_channels is None
                else choices.allowed_channels
            ),
            embedded=defaults.uses_embedded_api,
        )

    def allows(self, channel: str) -> bool:
        """Whether the bot answers in `channel`."""
        return not self.allowed_channels or channel in self.allowed_channels
