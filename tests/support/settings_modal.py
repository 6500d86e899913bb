"""The `view.state.values` Slack submits for the App Home's settings modal, as an admin left it
or changed it."""

from __future__ import annotations

import copy
from typing import Any

from bot.blocks.home import ANNOTATE_BLOCK, CHANNELS_BLOCK, CLASSES_BLOCK, UPLOADS_BLOCK


def inputs(modal: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The modal's input elements by block id."""
    return {b["block_id"]: b["element"] for b in modal["blocks"] if b["type"] == "input"}


def untouched(modal: dict[str, Any]) -> dict[str, Any]:
    """The `view.state.values` Slack submits for `modal` when nothing was changed: for each input
    block, {block_id: {action_id: {"type": ..., and the element's value}}}."""
    values: dict[str, Any] = {}
    for block_id, element in inputs(modal).items():
        state: dict[str, Any] = {"type": element["type"]}
        if element["type"] == "plain_text_input":
            state["value"] = element.get("initial_value")
        elif element["type"] == "radio_buttons":
            state["selected_option"] = copy.deepcopy(element.get("initial_option"))
        else:
            assert element["type"] == "multi_conversations_select"
            state["selected_conversations"] = list(element.get("initial_conversations", []))
        values[block_id] = {element["action_id"]: state}
    return values


def edited(modal: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The state values after an admin changed some inputs: `classes` typed, `uploads` or
    `annotate` (an option's value) chosen, `channels` (ids) selected."""
    values = untouched(modal)
    elements = inputs(modal)
    blocks = {"classes": CLASSES_BLOCK, "uploads": UPLOADS_BLOCK, "annotate": ANNOTATE_BLOCK,
              "channels": CHANNELS_BLOCK}  # fmt: skip
    for name, change in changes.items():
        element = elements[blocks[name]]
        (state,) = values[blocks[name]].values()
        if name == "classes":
            state["value"] = change
        elif name == "channels":
            state["selected_conversations"] = list(change)
        else:
            (option,) = [o for o in element["options"] if o["value"] == change]
            state["selected_option"] = copy.deepcopy(option)
    return values
