"""listeners.commands: `/detect` answers mistakes and help in its ack, and queues the rest."""

from __future__ import annotations

from slack_bolt.context.ack import Ack

from bot.jobs.detect import DetectImages
from bot.jobs.show_job import ShowJob
from bot.listeners import commands
from tests.support.slack_signing import slash_command_fields
from tests.unit.listeners.conftest import Make, acked

CHANNEL, USER = "C0LISTEN01", "U0LISTEN01"
JOB = "5d689c71-e68f-46c3-ac71-4053806e71de"


def detect(listening: Make, text: str, **env: str) -> tuple[dict, list]:
    listen = listening(**env)
    ack = Ack()
    commands.detect(ack, slash_command_fields(text, channel=CHANNEL, user=USER), listen.context)
    return acked(ack), listen.submitted()


def test_links_and_classes_are_one_announced_detection(listening: Make) -> None:
    answer, (job,) = detect(listening, "https://e.example/a.jpg cat, hot_dog")
    assert answer == {}
    assert isinstance(job, DetectImages)
    assert (job.urls, job.classes, job.announce) == (
        ("https://e.example/a.jpg",),
        ("cat", "hot dog"),
        True,
    )
    assert (job.channel, job.user, job.thread_ts) == (CHANNEL, USER, None)


def test_no_link_looks_for_the_default_classes_in_the_latest_image(listening: Make) -> None:
    _, (job,) = detect(listening, "", DETECT_CLASSES="dog")
    assert isinstance(job, DetectImages) and (job.urls, job.files, job.classes) == (
        (),
        (),
        ("dog",),
    )


def test_a_job_lookup_is_shown_to_the_user_who_asked(listening: Make) -> None:
    _, (job,) = detect(listening, f"job {JOB}")
    assert isinstance(job, ShowJob) and (job.api_job_id, job.user) == (JOB, USER)


def test_help_and_mistakes_are_answered_in_the_ack_and_queue_nothing(listening: Make) -> None:
    answer, jobs = detect(listening, "help")
    assert "`/detect job JOB_ID`" in answer["text"] and jobs == []
    answer, jobs = detect(listening, "--all person")
    assert "looks like an option" in answer["text"] and jobs == []
    answer, jobs = detect(listening, "job")
    assert "takes one job id" in answer["text"] and jobs == []


def test_all_with_a_hosted_account_and_a_channel_not_enabled_are_refused(listening: Make) -> None:
    hosted = {"II_CLIENT_ID": "client", "II_CLIENT_SECRET": "secret"}
    answer, jobs = detect(listening, "all", **hosted)
    assert "name the classes to look for" in answer["text"] and jobs == []
    answer, jobs = detect(listening, "cat", ALLOWED_CHANNELS="C0ELSEWHERE")
    assert "not enabled in this channel" in answer["text"] and jobs == []
