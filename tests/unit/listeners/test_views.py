"""listeners.views: the settings modal's submission is checked in the ack, and saved by a job."""

from __future__ import annotations

from slack_bolt.context.ack import Ack

from bot.blocks.home import CLASSES_BLOCK, settings_modal
from bot.config import Settings
from bot.jobs.home import SaveSettings
from bot.listeners import views
from bot.workspaces.settings import Choices
from tests.support.settings_modal import edited
from tests.unit.listeners.conftest import Make, acked

USER = "U0LISTEN01"


def submit(listening: Make, classes: str) -> tuple[dict, list]:
    listen = listening()
    values = edited(settings_modal(Choices(), Settings()), classes=classes)
    ack = Ack()
    body = {"user": {"id": USER}}
    views.settings_submitted(ack, body, {"state": {"values": values}}, listen.context)
    return acked(ack), listen.submitted()


def test_a_valid_submission_is_saved_by_a_job(listening: Make) -> None:
    answer, (job,) = submit(listening, "cat, kitten")
    assert answer == {}
    assert isinstance(job, SaveSettings) and (job.classes, job.user) == (("cat", "kitten"), USER)


def test_an_unknown_class_is_shown_in_the_modal_and_nothing_is_saved(listening: Make) -> None:
    answer, jobs = submit(listening, "cat, unicorn")
    assert answer["response_action"] == "errors"
    assert "unicorn is not a class I know" in answer["errors"][CLASSES_BLOCK]
    assert jobs == []
