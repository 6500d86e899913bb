"""Jobs travel as JSON between processes: what `encode` writes, `decode` turns back into the same
job, its sequences tuples again, and anything else is refused."""

from __future__ import annotations

import json

import pytest

from bot.jobs import decode, encode
from bot.jobs.detect import DetectImages
from bot.jobs.home import SaveSettings


@pytest.mark.parametrize(
    "job",
    [
        DetectImages(
            team_id="T1",
            channel="C1",
            user="U1",
            thread_ts="1.2",
            classes=("cat", "dog"),
            files=({"id": "F1", "name": "cat.png"},),
            urls=("https://example.com/a.jpg",),
            react_to="1.2",
        ),
        SaveSettings(
            team_id="T1",
            channel="D1",
            user="U1",
            classes=("person",),
            auto_detect=False,
            annotate=True,
            allowed_channels=(),
        ),
    ],
)
def test_a_job_decodes_to_the_job_that_was_encoded(job: DetectImages | SaveSettings) -> None:
    again = decode(encode(job))
    assert again == job
    assert isinstance(again.classes, tuple)


@pytest.mark.parametrize("text", ['{"kind": "nope", "team_id": "T1"}', "[1, 2]", '"detect"'])
def test_what_encode_did_not_write_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not an encoded job"):
        decode(text)


def test_the_encoded_form_is_compact_json_naming_its_kind() -> None:
    text = encode(DetectImages(team_id="T1", channel="C1", classes=("cat",)))
    assert " " not in text
    assert json.loads(text)["kind"] == "detect"
