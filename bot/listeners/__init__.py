"""Bolt listeners: each acks at once, turns the Slack payload into work and hands it to the pipeline."""

from __future__ import annotations

from slack_bolt import App

from bot.config import Settings
from bot.listeners import actions, commands, messages, shortcuts
from bot.pipeline import Pipeline


def register_listeners(app: App, pipeline: Pipeline, settings: Settings) -> None:
    messages.register(app, pipeline, settings)
    commands.register(app, pipeline, settings)
    actions.register(app, pipeline)
    shortcuts.register(app, pipeline, settings)
