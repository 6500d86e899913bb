"""A detection's results are data: plain asserts on the Block Kit dicts, with their "Report a
mistake" controls, and Slack's limits checked with tests/support/blockkit.py."""

from __future__ import annotations

from typing import Any

import pytest

from bot.blocks.feedback import FEEDBACK_ACTION_ID, parse_feedback_value
from bot.blocks.results import (
    IMAGE_STATUS_PHRASES,
    ImageOutcome,
    request_announcement,
    results_message,
)
from bot.imageintelligence.contract import (
    FALSE_NEGATIVE,
    FALSE_POSITIVE,
    IMAGE_DOWNLOAD_ERROR,
    IMAGE_FORMAT_ERROR,
    IMAGE_OK,
    IMAGE_STATUSES,
)
from bot.imageintelligence.models import DetectedObject, ImageResult
from tests.support import apispec
from tests.support.blockkit import slack_problems

JOB = "5d689c71-e68f-46c3-ac71-4053806e71de"
CLASSES = ["person", "car", "cat"]


def result(*objects: DetectedObject, status: str = IMAGE_OK) -> ImageResult:
    return ImageResult(id="img", url="", status=status, custom_id=None, objects=objects)


def found(name: str, confidence: float) -> DetectedObject:
    return DetectedObject(name, confidence, True)


def absent(name: str) -> DetectedObject:
    return DetectedObject(name, 0.0, False)


def unsupported(name: str) -> DetectedObject:
    return DetectedObject(name, 0.0, False, supported=False)


CAT = result(found("cat", 0.85), absent("person"), absent("car"))
NOTHING = result(absent("person"), absent("car"), absent("cat"))


def texts(message: dict[str, Any]) -> list[str]:
    """Every mrkdwn/plain text of a message's blocks, in order."""
    out = []
    for block in message["blocks"]:
        if block["type"] == "section":
            out.append(block["text"]["text"])
        elif block["type"] == "context":
            out.extend(e["text"] for e in block["elements"])
    return out


def controls(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [b["accessory"] for b in message["blocks"] if "accessory" in b]


def option_values(control: dict[str, Any]) -> list[str]:
    if control["type"] == "button":
        return [control["value"]]
    return [o["value"] for o in control["options"]]


def assert_within_slack_limits(message: dict[str, Any]) -> None:
    """Slack takes the message, made of sections and context blocks only, whose controls are all
    "Report a mistake" ones carrying values the bot can read back."""
    assert slack_problems(message) == []
    assert {block["type"] for block in message["blocks"]} <= {"section", "context"}
    for control in controls(message):
        assert control["action_id"] == FEEDBACK_ACTION_ID
        for value in option_values(control):
            parse_feedback_value(value)


# --- results ------------------------------------------------------------------------------------


def test_found_missing_and_unsupported_classes_are_told_apart() -> None:
    image = result(found("cat", 0.853), absent("person"), unsupported("unicorn"))
    message = results_message(
        [ImageOutcome("chelsea.png", image)], job_ids=[JOB], classes=["cat", "person", "unicorn"]
    )
    section = texts(message)[0]
    assert section.splitlines() == [
        "*chelsea.png*",
        "Found: cat 85%",
        "Not found: person",
        "Not supported by this detector: unicorn",
    ]
    assert message["text"] == "chelsea.png: cat 85% · no person found · unicorn not supported"
    assert_within_slack_limits(message)


def test_fallback_summarises_every_image_in_one_line() -> None:
    message = results_message(
        [ImageOutcome("chelsea.png", CAT), ImageOutcome("coffee.png", NOTHING)],
        job_ids=[JOB],
        classes=CLASSES,
    )
    assert message["text"] == (
        "chelsea.png: cat 85% · no person, car found; coffee.png: no person, car, cat found"
    )


def test_a_requested_class_the_api_did_not_mention_counts_as_not_found() -> None:
    # The hosted API may list only what it found.
    message = results_message(
        [ImageOutcome("chelsea.png", result(found("Cat", 0.9)))], job_ids=[JOB], classes=CLASSES
    )
    assert texts(message)[0].splitlines()[1:] == ["Found: cat 90%", "Not found: person, car"]


def test_every_image_status_has_a_sentence_and_the_others_keep_their_results() -> None:
    assert set(apispec.definition("ImageStatus")["enum"]) == set(IMAGE_STATUSES)
    failing = [s for s in IMAGE_STATUSES if s != IMAGE_OK]
    assert set(IMAGE_STATUS_PHRASES) == set(failing)
    assert len(set(IMAGE_STATUS_PHRASES.values())) == len(failing)

    outcomes = [ImageOutcome(f"{s.lower()}.png", result(status=s)) for s in failing]
    outcomes.append(ImageOutcome("chelsea.png", CAT))
    message = results_message(outcomes, job_ids=[JOB], classes=CLASSES)

    sections = texts(message)
    for status, section in zip(failing, sections, strict=False):
        assert section == f":warning: *{status.lower()}.png* {IMAGE_STATUS_PHRASES[status]}."
        assert status not in section  # words, not codes
    assert "Found: cat 85%" in sections[len(failing)]
    assert [c["type"] for c in controls(message)] == ["overflow"]  # only the image with results
    assert_within_slack_limits(message)


def test_the_main_image_statuses_read_as_the_issue_says() -> None:
    assert IMAGE_STATUS_PHRASES[IMAGE_DOWNLOAD_ERROR] == "could not be downloaded"
    assert IMAGE_STATUS_PHRASES[IMAGE_FORMAT_ERROR] == "is not an image the detector can read"


def test_the_reason_the_api_gave_follows_the_status_escaped_and_short() -> None:
    def failed(status: str, error: str | None) -> str:
        bad = ImageResult("img", "", status, None, (), error)
        return texts(
            results_message([ImageOutcome("photo.jpg", bad)], job_ids=[], classes=CLASSES)
        )[0]

    assert failed(IMAGE_DOWNLOAD_ERROR, "the image server answered HTTP 404") == (
        ":warning: *photo.jpg* could not be downloaded: the image server answered HTTP 404."
    )
    assert failed(IMAGE_FORMAT_ERROR, "truncated or damaged  image") == (
        ":warning: *photo.jpg* could not be read: truncated or damaged image."
    )
    assert failed(IMAGE_DOWNLOAD_ERROR, "<!here> " + "x" * 300) == (
        ":warning: *photo.jpg* could not be downloaded."
    )
    assert failed(IMAGE_DOWNLOAD_ERROR, "<!here> now") == (
        ":warning: *photo.jpg* could not be downloaded: &lt;!here&gt; now."
    )


def test_all_lists_what_was_found_best_first_and_reports_only_that() -> None:
    many = result(found("dog", 0.6), absent("cat"), found("person", 0.9), unsupported("ufo"))
    nothing = result(absent("dog"), absent("person"))
    message = results_message(
        [ImageOutcome("park.jpg", many), ImageOutcome("sky.jpg", nothing)],
        job_ids=[JOB],
        classes=["all"],
    )

    assert texts(message)[:2] == [
        "*park.jpg*\nFound: person 90%, dog 60%",
        "*sky.jpg*\nNothing I know of found.",
    ]
    assert message["text"] == "park.jpg: person 90%, dog 60%; sky.jpg: nothing I know of found"
    (control,) = controls(message)
    assert [o["text"]["text"] for o in control["options"]] == [
        "person is not there",
        "dog is not there",
    ]
    announced = request_announcement("U1", ["all"], 2)
    assert announced["text"] == "<@U1> asked to detect everything I know in 2 images"


def test_an_unknown_status_still_says_the_image_failed() -> None:
    message = results_message(
        [ImageOutcome("a.png", result(status="NEW_<ERROR>"))], job_ids=[JOB], classes=CLASSES
    )
    assert texts(message)[0] == ":warning: *a.png* failed (NEW_&lt;ERROR&gt;)."


def test_skipped_images_show_their_problem_and_need_no_job() -> None:
    outcomes = [
        ImageOutcome("huge.png", problem="too large (12 MB, limit 10 MB)"),
        ImageOutcome("notes.pdf", problem="not an image"),
    ]
    message = results_message(outcomes, job_ids=[], classes=CLASSES)
    assert texts(message) == [
        ":warning: *huge.png* was skipped: too large (12 MB, limit 10 MB)",
        ":warning: *notes.pdf* was skipped: not an image",
    ]
    assert message["text"] == (
        "huge.png: skipped (too large (12 MB, limit 10 MB)); notes.pdf: skipped (not an image)"
    )
    assert controls(message) == []
    assert_within_slack_limits(message)


def test_an_outcome_has_a_result_or_a_problem() -> None:
    with pytest.raises(ValueError):
        ImageOutcome("a.png")
    with pytest.raises(ValueError):
        ImageOutcome("a.png", CAT, problem="too large")


def test_job_ids_are_shown_small_at_the_end() -> None:
    one = results_message([ImageOutcome("a.png", CAT)], job_ids=[JOB], classes=CLASSES)
    assert one["blocks"][-1] == {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": f"Job `{JOB}`"}],
    }
    two = results_message([ImageOutcome("a.png", CAT)], job_ids=["j1", "j2"], classes=CLASSES)
    assert two["blocks"][-1]["elements"][0]["text"] == "Jobs `j1`, `j2`"


def test_user_provided_names_and_classes_are_escaped() -> None:
    name = "<!channel> & <@U024BE7LH>.png"
    image = result(found("<b>", 0.5), absent("a&b"))
    message = results_message(
        [ImageOutcome(name, image), ImageOutcome("<!here>", problem="not <an> image")],
        job_ids=["j<1>"],
        classes=["<b>", "a&b"],
    )
    rendered = [message["text"], *texts(message)]
    assert all("<" not in t and ">" not in t for t in rendered)
    assert "*&lt;!channel&gt; &amp; &lt;@U024BE7LH&gt;.png*" in rendered[1]
    assert "Found: &lt;b&gt; 50%" in rendered[1]
    assert "not &lt;an&gt; image" in rendered[2]
    assert_within_slack_limits(message)


def test_a_message_never_has_more_than_50_blocks_and_names_every_image() -> None:
    outcomes = [ImageOutcome(f"photo-{i:03}.png", CAT) for i in range(120)]
    message = results_message(outcomes, job_ids=[JOB], classes=CLASSES)
    assert_within_slack_limits(message)
    blocks = message["blocks"]
    assert len(blocks) == 50
    assert blocks[-1]["type"] == "context"
    summary = blocks[-2]["text"]["text"]
    assert summary.startswith("*…and 72 more images:*\nphoto-048.png: cat 85%")
    listed = [line for line in summary.splitlines() if line.startswith("photo-")]
    left_out = int(summary.rsplit("…and ", 1)[1].removesuffix(" more"))
    assert len(listed) + left_out == 72  # every image is shown, listed or counted
    assert len(controls(message)) == 48


@pytest.mark.parametrize(("images", "job_ids", "summarised"), [(49, ["j"], 0), (50, ["j"], 2)])
def test_the_block_limit_is_met_exactly(images: int, job_ids: list[str], summarised: int) -> None:
    outcomes = [ImageOutcome(f"{i}.png", CAT) for i in range(images)]
    message = results_message(outcomes, job_ids=job_ids, classes=CLASSES)
    assert len(message["blocks"]) == 50
    assert len(controls(message)) == images - summarised
    assert_within_slack_limits(message)


def test_huge_inputs_are_cut_to_slack_limits_and_say_what_was_left_out() -> None:
    classes = [f"class-{i:03}-{'x' * 40}" for i in range(150)]
    image = result(*(found(c, 0.5) for c in classes[:75]))
    outcomes = [ImageOutcome("n" * 600 + f"{i}.png", image) for i in range(200)]
    message = results_message(outcomes, job_ids=[JOB], classes=classes)
    assert_within_slack_limits(message)
    assert message["text"].endswith("more")
    summary = message["blocks"][-2]["text"]["text"]
    assert summary.startswith("*…and 152 more images:*")
    assert summary.endswith("…\n…and 151 more")  # one clipped line, the rest counted


def test_no_images_still_makes_a_valid_message() -> None:
    message = results_message([], job_ids=[JOB], classes=CLASSES)
    assert message["text"] == "No images to check."
    assert_within_slack_limits(message)


def test_the_request_announcement_mentions_the_user() -> None:
    two = request_announcement("U123", ["person", "car"], 2)
    assert two["text"] == "<@U123> asked to detect person, car in 2 images"
    assert texts(two) == [two["text"]]
    one = request_announcement("U123", ["cat"], 1)
    assert one["text"] == "<@U123> asked to detect cat in 1 image"


# --- "Report a mistake" ---------------------------------------------------------------------------


def test_found_classes_can_be_reported_wrong_and_missing_ones_present() -> None:
    image = result(found("cat", 0.85), absent("person"), unsupported("unicorn"))
    message = results_message(
        [ImageOutcome("chelsea.png", image)], job_ids=[JOB], classes=["cat", "person", "unicorn"]
    )
    (control,) = controls(message)
    assert control["type"] == "overflow"
    assert [o["text"]["text"] for o in control["options"]] == [
        "cat is not there",
        "person is there (missed)",
    ]
    assert [parse_feedback_value(v) for v in option_values(control)] == [
        (JOB, "cat", FALSE_POSITIVE),
        (JOB, "person", FALSE_NEGATIVE),
    ]


def test_one_reportable_class_gets_a_button() -> None:
    message = results_message(
        [ImageOutcome("a.png", result(found("cat", 0.9)))], job_ids=[JOB], classes=["cat"]
    )
    (control,) = controls(message)
    assert control["type"] == "button"
    assert control["text"]["text"] == "Report: cat is not there"
    assert parse_feedback_value(control["value"]) == (JOB, "cat", FALSE_POSITIVE)


def test_more_than_five_reportable_classes_get_a_select_that_keeps_them_all() -> None:
    classes = ["person", "car", "bicycle", "dog", "cat", "bird", "horse"]
    message = results_message(
        [ImageOutcome("a.png", result(found("dog", 0.7)))], job_ids=[JOB], classes=classes
    )
    (control,) = controls(message)
    assert control["type"] == "static_select"
    assert control["placeholder"]["text"] == "Report a mistake"
    reported = [parse_feedback_value(v)[1:] for v in option_values(control)]
    assert reported[0] == ("dog", FALSE_POSITIVE)
    assert sorted(c for c, _ in reported) == sorted(classes)
    assert_within_slack_limits(message)


def test_nothing_to_report_means_no_control() -> None:
    message = results_message(
        [ImageOutcome("a.png", result(unsupported("unicorn")))], job_ids=[JOB], classes=["unicorn"]
    )
    assert controls(message) == []


def test_classes_too_long_for_a_value_are_left_out_of_the_menu() -> None:
    long = "c" * 120
    message = results_message(
        [ImageOutcome("a.png", result(found("cat", 0.9)))], job_ids=[JOB], classes=["cat", long]
    )
    (control,) = controls(message)
    assert [parse_feedback_value(v)[1] for v in option_values(control)] == ["cat"]


def test_each_image_reports_against_its_own_job() -> None:
    outcomes = [
        ImageOutcome("a.png", CAT, job_id="job-a"),
        ImageOutcome("b.png", CAT, job_id="job-b"),
        ImageOutcome("c.png", CAT),  # two jobs and no job id: nothing to report against
    ]
    message = results_message(outcomes, job_ids=["job-a", "job-b"], classes=CLASSES)
    jobs = [{parse_feedback_value(v)[0] for v in option_values(c)} for c in controls(message)]
    assert jobs == [{"job-a"}, {"job-b"}]
