"""listeners.actions: "Report a mistake" and "Edit settings" become jobs; a forged value does not."""

from __future__ import annotations

from slack_bolt.context.ack import Ack

from bot.blocks.feedback import encode_feedback
from bot.imageintelligence.contract import FALSE_POSITIVE
from bot.jobs.feedback import Feedback
from bot.jobs.home import OpenSettings
from bot.listeners import actions
from tests.support.slack_signing import block_actions_payload
from tests.unit.listeners.conftest import Make, acked

CHANNEL, USER = "C0LISTEN01", "U0LISTEN01"
JOB = "5d689c71-e68f-46c3-ac71-4053806e71de"


def test_a_report_from_a_menu_is_feedback_on_the_job_and_class_it_names(listening: Make) -> None:
    listen = listening()
    value = encode_feedback(JOB, "cat", FALSE_POSITIVE)
    action = {"action_id": "report_mistake", "selected_option": {"value": value}}
    body = block_actions_payload([action], channel=CHANNEL, user=USER)
    ack = Ack()

    actions.report_mistake(ack, body, action, listen.context)

    assert acked(ack) == {}
    (job,) = listen.submitted()
    assert isinstance(job, Feedback)
    assert (job.api_job_id, job.class_name, job.code) == (JOB, "cat", FALSE_POSITIVE)
    assert (job.channel, job.user) == (CHANNEL, USER)


def test_a_value_the_bot_did_not_write_is_acked_and_dropped(listening: Make) -> None:
    listen = listening()
    action = {"action_id": "report_mistake", "value": "fb1|P|../../etc|cat"}
    ack = Ack()
    actions.report_mistake(
        ack, block_actions_payload([action], channel=CHANNEL, user=USER), action, listen.context
    )
    assert acked(ack) == {} and listen.submitted() == []


def test_edit_settings_opens_the_modal_with_slacks_trigger(listening: Make) -> None:
    listen = listening()
    body = {"user": {"id": USER}, "trigger_id": "111.222.abc"}
    ack = Ack()
    actions.edit_settings(ack, body, listen.context)
    (job,) = listen.submitted()
    assert isinstance(job, OpenSettings) and (job.user, job.trigger_id) == (USER, "111.222.abc")
