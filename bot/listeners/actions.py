"""Buttons and menus: "Report a mistake" under each result, and "Edit settings" on the App Home."""

from __future__ import annotations

import logging

from slack_bolt import Ack, App, BoltContext

from bot.blocks.feedback import FEEDBACK_ACTION_ID, parse_feedback_value
from bot.blocks.home import EDIT_SETTINGS_ACTION
from bot.jobs.feedback import Feedback
from bot.jobs.home import OpenSettings
from bot.listeners.context import origin, queue

logger = logging.getLogger(__name__)


def report_mistake(ack: Ack, body: dict, action: dict, context: BoltContext) -> None:
    value = (action.get("selected_option") or {}).get("value") or action.get("value") or ""
    try:
        job_id, class_name, code = parse_feedback_value(value)
    except ValueError:
        logger.warning("ignored a feedback action with a malformed value")
        ack()
        return
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id", ""
    )
    job = Feedback(
        **origin(context, channel, body["user"]["id"]),
        api_job_id=job_id,
        class_name=class_name,
        code=code,
    )
    queue(context).submit(job)
    ack()


def edit_settings(ack: Ack, body: dict, context: BoltContext) -> None:
    job = OpenSettings(**origin(context, "", body["user"]["id"]), trigger_id=body["trigger_id"])
    queue(context).submit(job)
    ack()


def register(app: App) -> None:
    app.action(FEEDBACK_ACTION_ID)(report_mistake)
    app.action(EDIT_SETTINGS_ACTION)(edit_settings)
