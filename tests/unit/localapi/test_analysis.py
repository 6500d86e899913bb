"""What the embedded API says it found: a box per object of each requested class (a face and the body
around it are one person), none under the models' thresholds, on made-up detections and real photos."""

from __future__ import annotations

import pytest

from bot.images.decode import decode_image
from bot.localapi.analysis import describe
from bot.localapi.detector import get_detector
from bot.localapi.tiles import Detection, one_per_object
from bot.vocabulary import ANSWERED_BY, SCORE_THRESHOLDS, THOROUGH, labels_needed
from tests.support.photos import photo
from tests.support.scenes import scene

BODY = Detection("person", 0.73, (0.0, 14.0, 511.0, 593.0))
FACE = Detection("face", 0.87, (169.0, 130.0, 366.0, 327.0))  # grace_hopper.jpg's, inside BODY


def test_a_face_inside_a_persons_box_is_that_person_who_takes_the_better_score() -> None:
    assert one_per_object([FACE, BODY]) == [Detection("person", 0.87, BODY.box)]
    surer_body = Detection("person", 0.95, BODY.box)
    assert one_per_object([surer_body, FACE]) == [surer_body]


def test_a_face_with_no_body_around_it_is_a_person_of_its_own() -> None:
    elsewhere = Detection("face", 0.8, (600.0, 100.0, 660.0, 160.0))
    assert one_per_object([BODY, FACE, elsewhere]) == [
        Detection("person", 0.87, BODY.box),
        elsewhere,
    ]


def test_two_people_side_by_side_each_keep_their_face_and_count_twice() -> None:
    left = Detection("person", 0.7, (0.0, 0.0, 100.0, 300.0))
    right = Detection("person", 0.6, (90.0, 0.0, 190.0, 300.0))
    left_face = Detection("face", 0.9, (30.0, 10.0, 70.0, 50.0))
    right_face = Detection("face", 0.65, (120.0, 10.0, 160.0, 50.0))
    # A face in the overlap of a large box and a small one belongs to the small one (the child in
    # front of an adult), whose score it raises.
    adult = Detection("person", 0.8, (0.0, 0.0, 400.0, 600.0))
    child = Detection("person", 0.6, (150.0, 200.0, 250.0, 450.0))
    child_face = Detection("face", 0.75, (180.0, 210.0, 220.0, 250.0))

    assert one_per_object([left, right, left_face, right_face]) == [
        Detection("person", 0.9, left.box),
        Detection("person", 0.65, right.box),
    ]
    assert one_per_object([adult, child, child_face]) == [
        adult,
        Detection("person", 0.75, child.box),
    ]


def test_two_labels_on_one_object_count_once_and_overlapping_ones_of_a_label_stay() -> None:
    table = Detection("dining table", 0.6, (10.0, 200.0, 500.0, 400.0))
    desk = Detection("desk", 0.4, (20.0, 210.0, 490.0, 410.0))  # the same table, by the OIDv4 model
    laptop = Detection("laptop", 0.7, (100.0, 120.0, 260.0, 220.0))
    assert one_per_object([desk, table, laptop]) == [laptop, table]
    # The model already kept one box per horse: two it kept are two horses, however they overlap.
    horse = Detection("horse", 0.9, (0.0, 0.0, 200.0, 150.0))
    behind = Detection("horse", 0.7, (20.0, 10.0, 210.0, 150.0))
    assert one_per_object([horse, behind]) == [horse, behind]


def test_describe_gives_a_box_per_person_and_the_face_class_its_own() -> None:
    objects = {o["class"]: o for o in describe([FACE, BODY], ["person", "face", "dog"])}

    assert objects["person"]["confidence"] == 0.87
    assert [box["confidence"] for box in objects["person"]["boundingBoxes"]] == [0.87]
    assert objects["person"]["boundingBoxes"][0]["yMax"] == 593
    assert [box["xMin"] for box in objects["face"]["boundingBoxes"]] == [169]
    assert objects["dog"] == {
        "class": "dog",
        "confidence": 0.0,
        "verdict": False,
        "boundingBoxes": [],
    }


@pytest.mark.parametrize("name", ["grace_hopper.jpg", "astronaut.png", "camera.png"])
def test_a_portrait_is_one_person_scored_as_before_by_its_face(name: str) -> None:
    # BlazeFace and the body model each find the one person: two boxes before this rule.
    image = decode_image(photo(name)).image
    detections = get_detector().detect(image, labels_needed(["person"]), detail=THOROUGH)
    assert sorted(d.label for d in detections) == ["face", "person"]

    (person,) = describe(detections, ["person"])

    assert len(person["boundingBoxes"]) == 1
    assert person["confidence"] == round(max(d.confidence for d in detections), 4)


def test_the_api_gives_no_box_under_its_models_thresholds_on_a_crowded_beach() -> None:
    classes = ["person", "kite"]
    detections = get_detector().detect(scene("kite.jpg"), labels_needed(classes), detail=THOROUGH)

    objects = describe(detections, classes)

    floor = min(SCORE_THRESHOLDS[ANSWERED_BY[label]] for label in labels_needed(classes))
    for obj in objects:
        assert obj["verdict"] and len(obj["boundingBoxes"]) >= 5
        assert all(box["confidence"] >= floor for box in obj["boundingBoxes"])
        assert obj["confidence"] == obj["boundingBoxes"][0]["confidence"]
