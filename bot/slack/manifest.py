"""The Slack app's manifest (manifest.yml at the top of the repository, shipped in the package as
bot/manifest.yml): the one list of what the app asks Slack for."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml

MANIFEST = Path(__file__).resolve().parent.parent / "manifest.yml"


@functools.cache
def manifest() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    return data


def bot_scopes() -> tuple[str, ...]:
    """The bot scopes an installation asks for."""
    return tuple(manifest()["oauth_config"]["scopes"]["bot"])
