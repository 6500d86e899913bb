"""The App Home's views are data: plain asserts on the Block Kit dicts, Slack's limits checked with
tests/support/blockkit.py and by the Slack emulator, and the settings modal read back from the
`view.state.values` Slack would submit for it."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from slack_sdk import WebClient

from bot.blocks.home import (
    ANNOTATE_BLOCK,
    ANNOTATE_OFF,
    ANNOTATE_ON,
    CHANNELS_BLOCK,
    CLASSES_BLOCK,
    EDIT_SETTINGS_ACTION,
    EVERY_UPLOAD,
    MENTIONED_ONLY,
    SETTINGS_CALLBACK,
    UPLOADS_BLOCK,
    home_view,
    parse_settings,
    settings_modal,
)
from bot.config import Settings
from bot.vocabulary import CLASS_GROUPS, NEEDS_EMBEDDED
from bot.workspaces.settings import Choices, WorkspaceSettings
from tests.support.blockkit import slack_problems
from tests.support.settings_modal import edited, inputs, untouched
from tests.support.slack_emulator import SlackEmulator

EMBEDDED = Settings()
HOSTED = Settings(ii_client_id="client", ii_client_secret="secret")
MANY_CHANNELS = frozenset(f"C{n:010d}" for n in range(400))
LONG_CLASSES = tuple(f"class number {n}" for n in range(400))
INPUTS = (CLASSES_BLOCK, UPLOADS_BLOCK, ANNOTATE_BLOCK, CHANNELS_BLOCK)
NOT_KNOWN = "is not a class I know; see the list on the Home tab."

# --- the Home tab -------------------------------------------------------------------------------


def texts(view: dict[str, Any]) -> list[str]:
    """Every text of the view's blocks, in order."""
    found: list[str] = []
    for block in view["blocks"]:
        if "text" in block:
            found.append(block["text"]["text"])
        for element in block.get("elements", []):
            text = element["text"]
            found.append(text["text"] if isinstance(text, dict) else text)
    return found


def setting(view: dict[str, Any], title: str) -> str:
    """What the Home tab says of one setting (the section under its bold title)."""
    head = f"*{title}*\n"
    (text,) = [t for t in texts(view) if t.startswith(head)]
    return text.removeprefix(head)


def test_home_tab_says_what_the_bot_does_and_how_to_use_it() -> None:
    view = home_view(
        WorkspaceSettings.of(Choices(), EMBEDDED), can_edit=False, class_groups=CLASS_GROUPS
    )
    assert view["type"] == "home"
    text = "\n".join(texts(view))
    assert "images shared in the channels I'm in" in text and "thread" in text
    assert "with boxes drawn around them" in text
    assert "*Share images* in a channel I was invited to (`/invite` and my name)" in text
    for usage in ("`/detect IMAGE_URL ...`", "CLASS ...", "all`", "`/detect job JOB_ID`",
                  "`/detect help`", "*Detect objects*", "*Report a mistake*"):  # fmt: skip
        assert usage in text
    assert "*Classes I know*" in text and "_Vehicles and street_: bicycle, car" in text
    assert "hosted" not in text


def test_home_tab_shows_the_defaults_and_an_edit_button_for_admins() -> None:
    view = home_view(
        WorkspaceSettings.of(Choices(), EMBEDDED), can_edit=True, class_groups=CLASS_GROUPS
    )
    assert setting(view, "Default classes") == "person, car, bicycle, dog, cat"
    assert setting(view, "Uploads") == "Every image shared in a channel I'm in"
    assert setting(view, "Annotated images") == "On: I also upload the image with boxes drawn"
    assert setting(view, "Channels") == "Every channel I'm in"
    last = view["blocks"][-1]
    assert last["type"] == "actions"
    (button,) = last["elements"]
    assert button["type"] == "button" and button["action_id"] == EDIT_SETTINGS_ACTION
    assert button["text"]["text"] == "Edit settings"
    assert "Only workspace admins and owners" not in "\n".join(texts(view))


def test_home_tab_shows_a_workspaces_own_settings_read_only_to_members() -> None:
    chosen = Choices(
        classes=("all",),
        auto_detect=False,
        annotate=False,
        allowed_channels=frozenset({"C2", "C1"}),
    )
    view = home_view(
        WorkspaceSettings.of(chosen, EMBEDDED), can_edit=False, class_groups=CLASS_GROUPS
    )
    assert setting(view, "Default classes") == "Everything I know (`all`)"
    assert setting(view, "Uploads") == "Only images in messages that mention me"
    assert setting(view, "Annotated images") == "Off: I answer with the results only"
    assert setting(view, "Channels") == "<#C1>, <#C2>"
    text = "\n".join(texts(view))
    assert "Mention me in the message" in text and "boxes drawn around them" not in text
    assert view["blocks"][-1] == {
        "type": "context",
        "elements": [
            {
                "type": "mrkdwn",
                "text": "Only workspace admins and owners can change these settings.",
            }
        ],
    }
    assert all(b["type"] != "actions" for b in view["blocks"])


def test_home_tab_for_a_hosted_account_says_its_class_list_applies() -> None:
    view = home_view(WorkspaceSettings.of(Choices(), HOSTED), can_edit=True, class_groups=())
    text = "\n".join(texts(view))
    assert "hosted Image Intelligence account, so that account's class list applies" in text
    assert "*Classes I know*" not in text
    assert slack_problems(view) == []


def test_home_tab_escapes_classes_and_cuts_long_lists() -> None:
    odd = Settings(detect_classes=("<!here>", "fish & chips"), allowed_channels=frozenset({"C<1>"}))
    view = home_view(WorkspaceSettings.of(Choices(), odd), can_edit=True, class_groups=CLASS_GROUPS)
    assert setting(view, "Default classes") == "&lt;!here&gt;, fish &amp; chips"
    assert setting(view, "Channels") == "<#C&lt;1&gt;>"

    many = Settings(detect_classes=LONG_CLASSES, allowed_channels=MANY_CHANNELS)
    view = home_view(
        WorkspaceSettings.of(Choices(), many), can_edit=True, class_groups=CLASS_GROUPS
    )
    assert slack_problems(view) == []
    classes, channels = setting(view, "Default classes"), setting(view, "Channels")
    assert classes.startswith("class number 0, class number 1,") and classes.endswith(" more")
    assert channels.startswith("<#C0000000000>, <#C0000000001>,") and channels.endswith(" more")


# --- the settings modal -------------------------------------------------------------------------


def test_modal_is_filled_in_with_what_applies_now() -> None:
    modal = settings_modal(Choices(), EMBEDDED)
    assert modal["type"] == "modal" and modal["callback_id"] == SETTINGS_CALLBACK
    assert [b["block_id"] for b in modal["blocks"] if b["type"] == "input"] == list(INPUTS)
    elements = inputs(modal)
    assert elements[CLASSES_BLOCK]["initial_value"] == "person, car, bicycle, dog, cat"
    assert elements[UPLOADS_BLOCK]["initial_option"]["value"] == EVERY_UPLOAD
    assert elements[ANNOTATE_BLOCK]["initial_option"]["value"] == ANNOTATE_ON
    assert "initial_conversations" not in elements[CHANNELS_BLOCK]
    assert elements[CHANNELS_BLOCK]["filter"] == {"include": ["public", "private"]}
    (channels,) = [b for b in modal["blocks"] if b.get("block_id") == CHANNELS_BLOCK]
    assert channels["optional"] is True and "every channel" in channels["hint"]["text"]

    chosen = Choices(classes=("cat",), auto_detect=False, allowed_channels=frozenset({"C9"}))
    elements = inputs(settings_modal(chosen, Settings(annotate=False)))
    assert elements[CLASSES_BLOCK]["initial_value"] == "cat"
    assert elements[UPLOADS_BLOCK]["initial_option"]["value"] == MENTIONED_ONLY
    assert elements[ANNOTATE_BLOCK]["initial_option"]["value"] == ANNOTATE_OFF
    assert elements[CHANNELS_BLOCK]["initial_conversations"] == ["C9"]


def test_classes_hint_says_where_all_works() -> None:
    def hint(defaults: Settings) -> str:
        (block,) = [
            b
            for b in settings_modal(Choices(), defaults)["blocks"]
            if b.get("block_id") == CLASSES_BLOCK
        ]
        return str(block["hint"]["text"])

    assert "or all, for every class I know" in hint(EMBEDDED)
    assert "all, for every class, needs the embedded detector" in hint(HOSTED)


@pytest.mark.parametrize(
    ("current", "defaults"),
    [
        (Choices(), EMBEDDED),
        (Choices(), HOSTED),
        (Choices(), Settings(auto_detect=False, annotate=False)),
        (Choices(classes=("all",), allowed_channels=frozenset({"C1", "G2"})), EMBEDDED),
        (Choices(classes=("coffee cup", "kitten"), annotate=False), EMBEDDED),
        (Choices(auto_detect=False, allowed_channels=frozenset()), HOSTED),
        # As many classes as the input can hold (3000 characters).
        (
            Choices(allowed_channels=MANY_CHANNELS),
            dataclasses.replace(HOSTED, detect_classes=LONG_CLASSES[:150]),
        ),
    ],
)
def test_an_unchanged_modal_saves_what_applies_now_explicitly(
    current: Choices, defaults: Settings
) -> None:
    modal = settings_modal(current, defaults)
    assert slack_problems(modal) == []
    saved = parse_settings(untouched(modal), embedded=defaults.uses_embedded_api)
    effective = WorkspaceSettings.of(current, defaults)
    assert saved == Choices(
        classes=effective.detect_classes,
        auto_detect=effective.auto_detect,
        annotate=effective.annotate,
        allowed_channels=effective.allowed_channels,
    )
    # Stored explicitly: another environment later does not change what the admin saved.
    assert isinstance(saved, Choices)
    later = dataclasses.replace(
        defaults, detect_classes=("bus",), auto_detect=not effective.auto_detect,
        annotate=not effective.annotate, allowed_channels=frozenset({"C0LATER"}),
    )  # fmt: skip
    assert WorkspaceSettings.of(saved, later) == effective


def test_an_admins_changes_are_read_back() -> None:
    modal = settings_modal(Choices(), EMBEDDED)
    values = edited(
        modal,
        classes=" Cats, dog,,cats , coffee cup ",
        uploads=MENTIONED_ONLY,
        annotate=ANNOTATE_OFF,
        channels=["C1", "G2"],
    )
    assert parse_settings(values, embedded=True) == Choices(
        classes=("cats", "dog", "coffee cup"),
        auto_detect=False,
        annotate=False,
        allowed_channels=frozenset({"C1", "G2"}),
    )
    # Emptying the channels means every channel, saved as such; a hosted account's classes are its own.
    chosen = Choices(allowed_channels=frozenset({"C1"}))
    modal = settings_modal(chosen, HOSTED)
    values = edited(modal, classes="unicorn", channels=[])
    assert parse_settings(values, embedded=False) == Choices(
        classes=("unicorn",), auto_detect=True, annotate=True, allowed_channels=frozenset()
    )


@pytest.mark.parametrize(
    ("typed", "embedded", "error"),
    [
        ("", True, "Give at least one class, e.g. person,car, or all."),
        (None, True, "Give at least one class, e.g. person,car, or all."),
        (" , ,", False, "Give at least one class, e.g. person,car, or all."),
        ("all, cat", True, "`all` already means every class: give it alone."),
        ("all", False, f"{NEEDS_EMBEDDED}."),
        ("unicorn", True, f"unicorn {NOT_KNOWN}"),
        ("cat, Unicorn, dog, pegasus", True,
         "unicorn, pegasus are not classes I know; see the list on the Home tab."),
    ],
)  # fmt: skip
def test_classes_that_will_not_do_are_errors_under_the_classes_input(
    typed: str | None, embedded: bool, error: str
) -> None:
    values = edited(settings_modal(Choices(), EMBEDDED), classes=typed)
    assert parse_settings(values, embedded=embedded) == {CLASSES_BLOCK: error}


def test_many_unknown_classes_are_named_in_a_short_error() -> None:
    typed = ", ".join(f"unicorn {n}" for n in range(300))
    values = edited(settings_modal(Choices(), EMBEDDED), classes=typed)
    errors = parse_settings(values, embedded=True)
    assert isinstance(errors, dict)
    assert errors[CLASSES_BLOCK].startswith("unicorn 0, unicorn 1, ")
    assert "more are not classes I know" in errors[CLASSES_BLOCK]
    assert len(errors[CLASSES_BLOCK]) < 600


def test_missing_choices_are_errors_under_their_inputs() -> None:
    modal = settings_modal(Choices(), EMBEDDED)
    values = untouched(modal)
    values[UPLOADS_BLOCK]["uploads"]["selected_option"] = None
    values[ANNOTATE_BLOCK]["annotate"]["selected_option"]["value"] = "maybe"
    values[CLASSES_BLOCK]["classes"]["value"] = "unicorn"
    del values[CHANNELS_BLOCK]
    assert parse_settings(values, embedded=True) == {
        CLASSES_BLOCK: f"unicorn {NOT_KNOWN}",
        UPLOADS_BLOCK: "Choose which uploads I look at.",
        ANNOTATE_BLOCK: "Choose whether I upload annotated images.",
    }
    assert parse_settings({}, embedded=True) == {
        CLASSES_BLOCK: "Give at least one class, e.g. person,car, or all.",
        UPLOADS_BLOCK: "Choose which uploads I look at.",
        ANNOTATE_BLOCK: "Choose whether I upload annotated images.",
    }


# --- through Slack ------------------------------------------------------------------------------


def test_slack_takes_the_home_tab_and_the_modal(slack: SlackEmulator) -> None:
    client = WebClient(token=slack.bot_token, base_url=slack.api_url)
    chosen = Choices(allowed_channels=MANY_CHANNELS, classes=LONG_CLASSES)
    for can_edit, groups in ((True, CLASS_GROUPS), (False, ())):
        home = home_view(
            WorkspaceSettings.of(chosen, EMBEDDED), can_edit=can_edit, class_groups=groups
        )
        published = client.views_publish(user_id="U111", view=home)["view"]
        assert published["type"] == "home" and slack.home_view("U111") == published
        assert [b["type"] for b in published["blocks"]] == [b["type"] for b in home["blocks"]]

    known = Choices(classes=("person", "coffee cup"), allowed_channels=MANY_CHANNELS)
    opened = client.views_open(
        trigger_id="12345.98765.abcd2358fdea", view=settings_modal(known, EMBEDDED)
    )["view"]
    assert opened["callback_id"] == SETTINGS_CALLBACK and opened["title"]["text"]
    # The block and action ids survive Slack, so the submission reads back what was shown.
    assert parse_settings(untouched(opened), embedded=True) == Choices(
        classes=("person", "coffee cup"),
        auto_detect=True,
        annotate=True,
        allowed_channels=MANY_CHANNELS,
    )
