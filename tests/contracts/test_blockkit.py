"""The Block Kit checker the tests rely on finds what Slack refuses, and passes what it takes."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from bot.blocks.home import home_view, settings_modal
from bot.blocks.kit import button, context, header, message, option, plain, section
from bot.config import Settings
from bot.vocabulary import CLASS_GROUPS
from bot.workspaces.settings import Choices, WorkspaceSettings
from tests.support.blockkit import slack_problems

Payload = dict[str, Any]


def reply() -> Payload:
    menu = {
        "type": "overflow",
        "action_id": "menu",
        "options": [option("a", "1"), option("b", "2")],
    }
    return message("fallback", [header("Title"), section("*text*", menu), context("small")])


def radios() -> Payload:
    return {
        "type": "radio_buttons",
        "action_id": "choice",
        "options": [option("yes", "y"), option("no", "n")],
        "initial_option": option("yes", "y"),
    }


def change(edit: Callable[[Payload], object]) -> Payload:
    changed = reply()
    edit(changed)
    return changed


def accessory(payload: Payload) -> Payload:
    return payload["blocks"][1]["accessory"]


def with_accessory(element: Payload) -> Payload:
    return change(lambda m: m["blocks"][1].update(accessory=element))


def with_block(block: Payload) -> Payload:
    return change(lambda m: m["blocks"].append(block))


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        (change(lambda m: m.update(text="")), "message: a text of 1 to 3000 characters"),
        (change(lambda m: m.update(text="x" * 3001)), "message: a text of 1 to 3000 characters"),
        (change(lambda m: m.update(blocks=m["blocks"] * 17)), "message: 1 to 50 blocks"),
        (change(lambda m: m.update(blocks=[])), "message: 1 to 50 blocks"),
        (change(lambda m: m.update(thread="1.2")), "message: a text and blocks"),
        (
            change(lambda m: m["blocks"][1]["text"].update(text="x" * 3001)),
            "block 1 (section): text attribute cannot exceed 3000 characters",
        ),
        (
            change(lambda m: m["blocks"][1]["text"].update(text="")),
            "block 1 (section) text: a plain_text or mrkdwn text of at least 1 character",
        ),
        (
            change(lambda m: m["blocks"][2]["elements"][0].update(text="x" * 3001)),
            "block 2 (context) element 0: too long",
        ),
        (
            change(lambda m: m["blocks"][0].update(text={"type": "mrkdwn", "text": "x"})),
            "block 0 (header) text: a plain_text text of at least 1 character",
        ),
        (
            change(lambda m: m["blocks"][0].update(text=plain("x" * 151, 200))),
            "block 0 (header): text attribute cannot exceed 150 characters",
        ),
        (
            change(lambda m: accessory(m)["options"].pop()),
            "block 1 (section) accessory: at least 2 option(s)",
        ),
        (
            change(lambda m: accessory(m)["options"].extend([option("c", "3")] * 4)),
            "block 1 (section): options attribute must have between 1 and 5 items",
        ),
        (
            change(lambda m: accessory(m)["options"][0].update(text=plain("x" * 76, 80))),
            "block 1 (section) accessory option 0: text attribute cannot exceed 75 characters",
        ),
        (
            change(lambda m: accessory(m)["options"][1].update(value="v" * 151)),
            "block 1 (section) accessory option 1: value attribute cannot exceed 150 characters",
        ),
        (
            with_accessory({**button("b", "go"), "text": plain("x" * 76, 80)}),
            "block 1 (section): text attribute cannot exceed 75 characters",
        ),
        (
            change(lambda m: m["blocks"][1].update(colour="red")),
            "block 1 (section): fields slack_sdk does not know",
        ),
        (
            with_block({"type": "poll"}),
            "block 3 (poll): not a block slack_sdk knows",
        ),
        (
            with_accessory(button("b", "go", style="pink")),
            "block 1 (section): style attribute must be one of the following values: ",
        ),
        (
            with_accessory({"type": "radio_buttons", "action_id": "r", "options": []}),
            "block 1 (section) accessory: at least 1 option(s)",
        ),
        (
            with_accessory({**radios(), "initial_option": option("maybe", "m")}),
            "block 1 (section) accessory: the initial option is an option",
        ),
        (
            with_accessory(
                {**radios(), "options": [*radios()["options"], *[option("o", "0")] * 9]}
            ),
            "block 1 (section) accessory: at most 10 options",
        ),
        (
            with_block({"type": "input", "label": plain("l"), "element": radios()}),
            "block 3 (input): inputs only in modals",
        ),
        (
            change(lambda m: m["blocks"].extend([{**b, "block_id": "b"} for b in m["blocks"][1:]])),
            "block_ids unique",
        ),
        (
            with_block({"type": "actions", "elements": [button("b", "1"), button("b", "2")]}),
            "action_ids unique in each block",
        ),
    ],
)
def test_the_check_finds_what_slack_refuses_in_a_message(payload: Payload, problem: str) -> None:
    assert slack_problems(reply()) == []
    (found,) = slack_problems(payload)
    assert found.startswith(problem)  # slack_sdk may list enum values in any order


def test_the_check_finds_what_slack_refuses_in_a_view() -> None:
    view = home_view(
        WorkspaceSettings.of(Choices(), Settings()), can_edit=True, class_groups=CLASS_GROUPS
    )
    assert slack_problems(view) == []
    too_long = section("x")
    too_long["text"]["text"] = "x" * 3001
    assert slack_problems({**view, "blocks": [too_long]}) == [
        "block 0 (section): text attribute cannot exceed 3000 characters"
    ]
    assert slack_problems({**view, "blocks": view["blocks"][:1] * 101}) == [
        "view: views must contain between 1 and 100 blocks"
    ]
    twice = {**view, "blocks": view["blocks"] + view["blocks"][-1:]}
    assert slack_problems(twice) == ["action_ids unique in the view"]
    assert slack_problems({**view, "submit": plain("Save")}) == [
        "view: home view cannot have submit and close"
    ]

    modal = settings_modal(Choices(), Settings())
    assert slack_problems(modal) == []
    long_title = {**modal, "title": {"type": "plain_text", "text": "x" * 25}}
    assert slack_problems(long_title) == ["view: title must be between 1 and 24 characters"]
    twice = {**modal, "blocks": modal["blocks"] + modal["blocks"][1:2]}
    assert slack_problems(twice) == ["block_ids unique", "action_ids unique in the view"]
    no_submit = {k: v for k, v in modal.items() if k != "submit"}
    assert slack_problems(no_submit) == ["view: a modal with inputs needs submit"]
    elements = copy.deepcopy(modal)
    channels = elements["blocks"][-1]["element"]
    channels["filter"] = {"include": ["everything"]}
    assert slack_problems(elements) == ["block 4 (input) element: filter"]
