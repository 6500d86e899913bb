""" "Report a mistake": the overflow menu (or button) under each result sends feedback to the API."""

from __future__ import annotations

import logging

from slack_bolt import Ack, App, BoltContext

from bot.jobs.feedback import Feedback
from bot.queue import Queue
from bot.replies import FEEDBACK_ACTION_ID, parse_feedback_value

logger = logging.getLogger(__name__)


def register(app: App, queue: Queue) -> None:
    @app.action(FEEDBACK_ACTION_ID)
    def on_feedback(ack: Ack, body: dict, action: dict, context: BoltContext) -> None:
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
        queue.submit(
            Feedback(
                team_id=context.team_id or "",
                enterprise_id=context.enterprise_id,
                channel=channel,
                user=body["user"]["id"],
                api_job_id=job_id,
                class_name=class_name,
                code=code,
            )
        )
        ack()
