"""How many of each class a reply, the CLI's lines and the annotated image's alt text say were found:
the number of the class's boxes, and nothing when the API gave none (a hosted account)."""

from __future__ import annotations

import pytest

from bot.blocks.results import (
    MAX_ALT_TEXT,
    ImageOutcome,
    alt_text,
    counts,
    results_message,
    summary_line,
)
from bot.imageintelligence.contract import IMAGE_OK
from bot.imageintelligence.models import BoundingBox, DetectedObject, ImageResult
from bot.vocabulary import ALL, CLASS_NAMES
from tests.support.blockkit import slack_problems

JOB = "5d689c71-e68f-46c3-ac71-4053806e71de"
TIMES = "\N{MULTIPLICATION SIGN}"


def result(*objects: DetectedObject) -> ImageResult:
    return ImageResult(id="img", url="", status=IMAGE_OK, custom_id=None, objects=objects)


def boxes(n: int) -> tuple[BoundingBox, ...]:
    return tuple(BoundingBox(10 * i, 10, 10 * i + 8, 30, 0.9) for i in range(n))


def found(name: str, confidence: float, n: int) -> DetectedObject:
    """`name` found `n` times (n=0: found, with no boxes, as a hosted API answers)."""
    return DetectedObject(name, confidence, True, boxes=boxes(n))


BEACH = result(
    found("person", 0.973, 8),
    found("kite", 0.951, 7),
    DetectedObject("dog", 0.0, False),
    found("cat", 0.81, 1),
)


def test_the_reply_says_how_many_of_each_class_and_the_best_score() -> None:
    message = results_message(
        [ImageOutcome("kite.jpg", BEACH)], job_ids=[JOB], classes=["person", "kite", "dog", "cat"]
    )

    section = message["blocks"][0]["text"]["text"]
    assert section.splitlines()[1:] == [
        f"Found: person {TIMES}8 (best 97%), kite {TIMES}7 (best 95%), cat 81%",
        "Not found: dog",
    ]
    assert message["text"] == (
        f"kite.jpg: person {TIMES}8 (best 97%), kite {TIMES}7 (best 95%), cat 81% · no dog found"
    )
    assert slack_problems(message) == []


def test_with_all_the_classes_come_best_first_with_their_counts() -> None:
    line = summary_line(ImageOutcome("kite.jpg", BEACH), [ALL])

    assert line == f"kite.jpg: person {TIMES}8 (best 97%), kite {TIMES}7 (best 95%), cat 81%"


def test_without_boxes_nothing_is_said_about_how_many() -> None:
    hosted = result(found("person", 0.973, 0), found("kite", 0.951, 0))

    line = summary_line(ImageOutcome("kite.jpg", hosted), ["person", "kite"])

    assert line == "kite.jpg: person 97%, kite 95%"
    assert counts(hosted, ["person", "kite"]) == {"person": None, "kite": None}


def test_counts_name_each_class_found_with_its_number_of_boxes() -> None:
    assert counts(BEACH, ["person", "kite", "dog", "cat"]) == {"person": 8, "kite": 7, "cat": 1}
    assert counts(result(DetectedObject("dog", 0.0, False)), ["dog"]) == {}


@pytest.mark.parametrize(
    ("objects", "expected"),
    [
        (
            (found("person", 0.97, 8), found("kite", 0.95, 7)),
            "Photo with 8 people and 7 kites, boxes drawn around each",
        ),
        ((found("cat", 0.88, 1),), "Photo with 1 cat, a box drawn around it"),
        (
            (found("person", 0.9, 1), found("bus", 0.8, 2), found("sheep", 0.7, 3)),
            "Photo with 1 person, 2 buses and 3 sheep, boxes drawn around each",
        ),
        # Classes as users type them: a plural, and a plural the vocabulary knows.
        (
            (found("puppies", 0.9, 1), found("cats", 0.8, 2), found("people", 0.7, 1)),
            "Photo with 1 puppy, 2 cats and 1 person, boxes drawn around each",
        ),
        (
            (found("computer mouse", 0.9, 2), found("knife", 0.8, 3), found("wine glass", 0.7, 2)),
            "Photo with 2 computer mice, 3 knives and 2 wine glasses, boxes drawn around each",
        ),
        ((found("person", 0.9, 0),), "Photo with no boxes drawn"),
    ],
)
def test_the_alt_text_says_how_many_of_what_were_boxed(
    objects: tuple[DetectedObject, ...], expected: str
) -> None:
    classes = [obj.class_name for obj in objects]
    assert alt_text(result(*objects), classes) == expected


def test_an_alt_text_past_slacks_limit_sums_up_the_classes_that_do_not_fit() -> None:
    # Every class of the embedded detector found three times: far past 1000 characters in full.
    everything = result(*(found(name, 0.9, 3) for name in CLASS_NAMES))

    text = alt_text(everything, [ALL])

    assert len(text) <= MAX_ALT_TEXT
    assert text.startswith("Photo with 3 people, 3 faces, ")
    shown = text.removeprefix("Photo with ").split(", ")
    more = shown[-2].rsplit(" and ", 1)[1]  # "... and 123 more", then "boxes drawn around each"
    assert more == f"{3 * len(CLASS_NAMES) - 3 * (len(shown) - 1)} more"
    assert shown[-1] == "boxes drawn around each"
