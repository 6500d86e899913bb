"""The Block Kit primitives keep every text within the limit of the field it fills."""

from __future__ import annotations

import pytest

from bot.blocks.kit import (
    MAX_HEADER,
    MAX_LABEL,
    MAX_OPTION_TEXT,
    MAX_TEXT,
    MAX_VIEW_TITLE,
    button,
    clip,
    context,
    escape,
    fit,
    header,
    message,
    notice,
    option,
    plain,
    section,
)
from tests.support.blockkit import slack_problems

LONG = escape("fish & chips <b> ") * 400  # 10,800 characters of mrkdwn entities and words


def test_escape_leaves_no_character_mrkdwn_reads() -> None:
    assert escape("<!here> & <@U1>") == "&lt;!here&gt; &amp; &lt;@U1&gt;"


@pytest.mark.parametrize("limit", range(1, 40))
def test_clip_ends_with_an_ellipsis_and_never_cuts_an_entity(limit: int) -> None:
    text = escape("a & b <c> d")
    clipped = clip(text, limit)
    assert len(clipped) <= limit
    if clipped == text:
        assert len(text) <= limit
    else:
        assert clipped.endswith("…")
        body = clipped.removesuffix("…")
        assert text.startswith(body)
        assert body.rfind("&") <= body.rfind(";")  # every entity kept is whole


def test_fit_says_how_many_were_left_out() -> None:
    assert fit(["a", "b"], ", ", 10) == "a, b"
    parts = [f"part {n}" for n in range(100)]
    joined = fit(parts, ", ", 60)
    assert len(joined) <= 60
    kept = joined.split(", …and ")[0].split(", ")
    assert kept == parts[: len(kept)]
    assert joined.endswith(f", …and {100 - len(kept)} more")
    first_too_long = fit(["x" * 100, "y"], ", ", 30)
    assert len(first_too_long) <= 30 and first_too_long.endswith("…, …and 1 more")


def test_every_builder_clips_to_its_field() -> None:
    def clipped(text: str, limit: int) -> bool:
        return limit - len("&amp;") < len(text) <= limit and text.endswith("…")

    assert clipped(section(LONG)["text"]["text"], MAX_TEXT)
    assert clipped(context(LONG)["elements"][0]["text"], MAX_TEXT)
    assert clipped(header(LONG)["text"]["text"], MAX_HEADER)
    assert clipped(plain(LONG)["text"], MAX_OPTION_TEXT)
    assert clipped(plain(LONG, MAX_VIEW_TITLE)["text"], MAX_VIEW_TITLE)
    assert clipped(plain(LONG, MAX_LABEL)["text"], MAX_LABEL)
    assert clipped(button("b", LONG)["text"]["text"], MAX_OPTION_TEXT)
    assert clipped(option(LONG, "v")["text"]["text"], MAX_OPTION_TEXT)
    long = message(LONG, [section(LONG, button("b", LONG, value="v")), context(LONG)])
    assert clipped(long["text"], MAX_TEXT)
    assert slack_problems(long) == []
    view = {
        "type": "modal",
        "title": plain(LONG, MAX_VIEW_TITLE),
        "blocks": [
            header(LONG),
            section(LONG),
            {"type": "actions", "elements": [button("b", LONG)]},
        ],
    }
    assert slack_problems(view) == []


def test_a_notice_is_its_sentence_and_a_small_note() -> None:
    assert notice("Done.", emoji=":memo:") == {
        "text": "Done.",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": ":memo: Done."}}],
    }
    noted = notice("It failed.", "No results for 1 image.")
    assert noted["text"] == "It failed. No results for 1 image."
    assert noted["blocks"][0]["text"]["text"] == ":warning: It failed."
    assert noted["blocks"][1] == context("No results for 1 image.")
    assert slack_problems(noted) == []
