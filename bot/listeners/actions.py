""" "Report a mistake": the overflow menu (or button) under each result sends feedback to the API."""

from __future__ import annotations

import logging

from slack_bolt import Ack, App

from bot.pipeline import Pipeline
from bot.replies import FEEDBACK_ACTION_ID, parse_feedback_value

logger = logging.getLogger(__name__)


def register(app: App, pipeline: Pipeline) -> None:
    @app.action(FEEDBACK_ACTION_ID)
    def on_feedback(ack: Ack, body: dict, action: dict) -> None:
        ack()
        value = (action.get("selected_option") or {}).get("value") or action.get("value") or ""
        try:
            job_id, class_name, code = parse_feedback_value(value)
        except ValueError:
            logger.warning("ignored a feedback action with a malformed value")
            return
        channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
            "channel_id", ""
        )
        pipeline.submit_feedback(channel, body["user"]["id"], job_id, class_name, code)
