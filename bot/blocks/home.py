"""The App Home: the Home tab and the workspace settings modal, as Block Kit views; pure functions.

`home_view` is published with `views.publish` on `app_home_opened`: what the bot does, how to use it,
the classes it knows and this workspace's settings as they apply now, with an "Edit settings" button
(`EDIT_SETTINGS_ACTION`) for admins and owners. `settings_modal` is opened with `views.open` from that
button; `parse_settings` reads its `view_submission` (`view.state.values`) back into
`Choices`, or the errors to answer with `{"response_action": "errors", "errors": ...}`.

Every text is built with kit, clipped to its field's limit; lists that could outgrow a text are cut
with "…and N more", and user-provided text is escaped for mrkdwn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.blocks.kit import (
    MAX_LABEL,
    MAX_PLACEHOLDER,
    MAX_TEXT,
    MAX_VIEW_TITLE,
    button,
    context,
    escape,
    fit,
    header,
    option,
    plain,
    section,
)
from bot.blocks.usage import help_message
from bot.config import Settings
from bot.vocabulary import ALL, NEEDS_EMBEDDED, everything, parse_classes, unknown
from bot.workspaces.settings import Choices, WorkspaceSettings

EDIT_SETTINGS_ACTION = "edit_settings"
SETTINGS_CALLBACK = "workspace_settings"

# The settings modal's inputs: view.state.values[block_id][action_id] on submission.
CLASSES_BLOCK, CLASSES_ACTION = "settings_classes", "classes"
UPLOADS_BLOCK, UPLOADS_ACTION = "settings_uploads", "uploads"
ANNOTATE_BLOCK, ANNOTATE_ACTION = "settings_annotate", "annotate"
CHANNELS_BLOCK, CHANNELS_ACTION = "settings_channels", "channels"

EVERY_UPLOAD, MENTIONED_ONLY = "every_upload", "mentioned_only"
ANNOTATE_ON, ANNOTATE_OFF = "on", "off"

# How much of the unknown classes an error under the classes input quotes.
_MAX_NAMED = 500

_UPLOAD_CHOICES = {
    EVERY_UPLOAD: "Every image shared in a channel I'm in",
    MENTIONED_ONLY: "Only images in messages that mention me",
}
_ANNOTATE_CHOICES = {
    ANNOTATE_ON: "On: I also upload the image with boxes drawn",
    ANNOTATE_OFF: "Off: I answer with the results only",
}


# --- the Home tab -------------------------------------------------------------------------------


def home_view(
    effective: WorkspaceSettings,
    *,
    can_edit: bool,
    class_groups: Sequence[tuple[str, Sequence[str]]],
) -> dict[str, Any]:
    """The Home tab, for the settings that apply in the workspace now.

    `class_groups` are the classes the detector knows, by group (`CLASS_GROUPS` for the embedded
    detector); none for a hosted account, whose own class list applies. `can_edit`: the viewer is an
    admin or owner of the workspace, and gets the "Edit settings" button.
    """
    boxes = ", and upload the image with boxes drawn around them" if effective.annotate else ""
    mention = "" if effective.auto_detect else " Mention me in the message, as set below."
    blocks: list[dict[str, Any]] = [
        header("What I do"),
        section(
            "I say what is in the images shared in the channels I'm in: in the message's thread, "
            f"I list the objects I found and how sure I am{boxes}."
        ),
        header("How to use me"),
        section(
            "*Share images* in a channel I was invited to (`/invite` and my name): I answer in the "
            f"thread.{mention}"
        ),
        section(
            "*Detect objects*: the message shortcut (a message's ⋮ menu) looks at the images of "
            "any message, in a channel I'm in."
        ),
        section(
            "*Report a mistake*: the menu under each result. Tell me a class that is not in the "
            "image, or one I missed; it goes to the Image Intelligence API to improve the detector."
        ),
        *help_message(groups=class_groups)["blocks"],
    ]
    if not class_groups:
        blocks.append(
            section(
                "*Classes*: this bot uses a hosted Image Intelligence account, so that account's "
                "class list applies. Name the classes to look for."
            )
        )
    blocks += [{"type": "divider"}, header("Settings in this workspace"), *_settings(effective)]
    if can_edit:
        edit = button(EDIT_SETTINGS_ACTION, "Edit settings", style="primary")
        blocks.append({"type": "actions", "elements": [edit]})
    else:
        blocks.append(context("Only workspace admins and owners can change these settings."))
    return {"type": "home", "blocks": blocks}


def _settings(effective: WorkspaceSettings) -> list[dict[str, Any]]:
    classes: str | list[str] = (
        f"Everything I know (`{ALL}`)"
        if everything(effective.detect_classes)
        else [escape(c) for c in effective.detect_classes]
    )
    channels: str | list[str] = [f"<#{escape(c)}>" for c in sorted(effective.allowed_channels)]
    return [
        _setting("Default classes", classes),
        _setting("Uploads", _UPLOAD_CHOICES[_upload_choice(effective)]),
        _setting("Annotated images", _ANNOTATE_CHOICES[_annotate_choice(effective)]),
        _setting("Channels", channels or "Every channel I'm in"),
    ]


def _setting(title: str, value: str | list[str]) -> dict[str, Any]:
    head = f"*{title}*\n"
    body = value if isinstance(value, str) else fit(value, ", ", MAX_TEXT - len(head))
    return section(head + body)


def _upload_choice(effective: WorkspaceSettings) -> str:
    return EVERY_UPLOAD if effective.auto_detect else MENTIONED_ONLY


def _annotate_choice(effective: WorkspaceSettings) -> str:
    return ANNOTATE_ON if effective.annotate else ANNOTATE_OFF


# --- the settings modal -------------------------------------------------------------------------


def settings_modal(current: Choices, defaults: Settings) -> dict[str, Any]:
    """The "Edit settings" modal, its inputs filled in with what applies now: the workspace's
    choices (`current`) over the environment's `defaults`."""
    effective = WorkspaceSettings.of(current, defaults)
    if defaults.uses_embedded_api:
        hint = "Separate them with commas, e.g. person, car, dog; or all, for every class I know."
    else:
        hint = (
            "Separate them with commas, e.g. person, car, dog. (all, for every class, needs the "
            "embedded detector, not a hosted account.)"
        )
    classes = {
        "type": "plain_text_input",
        "action_id": CLASSES_ACTION,
        "initial_value": ", ".join(effective.detect_classes),
    }
    channels: dict[str, Any] = {
        "type": "multi_conversations_select",
        "action_id": CHANNELS_ACTION,
        "placeholder": plain("Every channel I'm in", MAX_PLACEHOLDER),
        "filter": {"include": ["public", "private"]},
    }
    if effective.allowed_channels:
        channels["initial_conversations"] = sorted(effective.allowed_channels)
    blocks = [
        context("These apply to everyone in this workspace, from the next request on."),
        _input(CLASSES_BLOCK, "Default classes", classes, hint=hint),
        _input(
            UPLOADS_BLOCK,
            "Uploads I look at",
            _radio(UPLOADS_ACTION, _UPLOAD_CHOICES, _upload_choice(effective)),
        ),
        _input(
            ANNOTATE_BLOCK,
            "Annotated images",
            _radio(ANNOTATE_ACTION, _ANNOTATE_CHOICES, _annotate_choice(effective)),
        ),
        _input(
            CHANNELS_BLOCK,
            "Channels I answer in",
            channels,
            hint="Leave empty for every channel I'm in. I only see channels I was invited to.",
            optional=True,
        ),
    ]
    return {
        "type": "modal",
        "callback_id": SETTINGS_CALLBACK,
        "title": plain("Workspace settings", MAX_VIEW_TITLE),
        "submit": plain("Save", MAX_VIEW_TITLE),
        "close": plain("Cancel", MAX_VIEW_TITLE),
        "blocks": blocks,
    }


def _input(
    block_id: str, label: str, element: dict[str, Any], *, hint: str = "", optional: bool = False
) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "input",
        "block_id": block_id,
        "label": plain(label, MAX_LABEL),
        "element": element,
    }
    if hint:
        block["hint"] = plain(hint, MAX_LABEL)
    if optional:
        block["optional"] = True
    return block


def _radio(action_id: str, choices: Mapping[str, str], chosen: str) -> dict[str, Any]:
    options = [option(text, value) for value, text in choices.items()]
    return {
        "type": "radio_buttons",
        "action_id": action_id,
        "options": options,
        "initial_option": next(o for o in options if o["value"] == chosen),
    }


# --- its submission -----------------------------------------------------------------------------


def parse_settings(state_values: Mapping[str, Any], *, embedded: bool) -> Choices | dict[str, str]:
    """The settings submitted with the modal (a `view_submission`'s `view.state.values`), or what is
    wrong with them as `{block_id: sentence}`. `embedded`: the embedded detector answers, so the
    classes must be ones it knows, and `all` is allowed.

    Every setting is stored as chosen, none left to the environment's default: an admin's choice
    sticks even if the environment changes later."""
    errors: dict[str, str] = {}
    classes = _classes(
        _state(state_values, CLASSES_BLOCK, CLASSES_ACTION).get("value") or "", embedded
    )
    if isinstance(classes, str):
        errors[CLASSES_BLOCK] = classes
    auto_detect = _choice(state_values, UPLOADS_BLOCK, UPLOADS_ACTION, EVERY_UPLOAD, MENTIONED_ONLY)
    if auto_detect is None:
        errors[UPLOADS_BLOCK] = "Choose which uploads I look at."
    annotate = _choice(state_values, ANNOTATE_BLOCK, ANNOTATE_ACTION, ANNOTATE_ON, ANNOTATE_OFF)
    if annotate is None:
        errors[ANNOTATE_BLOCK] = "Choose whether I upload annotated images."
    channels = _state(state_values, CHANNELS_BLOCK, CHANNELS_ACTION).get("selected_conversations")
    if isinstance(classes, str) or auto_detect is None or annotate is None:
        return errors
    return Choices(
        classes=classes,
        auto_detect=auto_detect,
        annotate=annotate,
        allowed_channels=frozenset(channels or ()),
    )


def _state(state_values: Mapping[str, Any], block_id: str, action_id: str) -> Mapping[str, Any]:
    return (state_values.get(block_id) or {}).get(action_id) or {}


def _classes(raw: str, embedded: bool) -> tuple[str, ...] | str:
    """The classes typed, or why they will not do."""
    try:
        classes = parse_classes(raw)
    except ValueError as exc:
        return _sentence(str(exc))
    if everything(classes):
        return classes if embedded else _sentence(NEEDS_EMBEDDED)
    strange = unknown(classes) if embedded else []
    if not strange:
        return classes
    names = fit(strange, ", ", _MAX_NAMED)
    if len(strange) == 1:
        return f"{names} is not a class I know; see the list on the Home tab."
    return f"{names} are not classes I know; see the list on the Home tab."


def _choice(
    state_values: Mapping[str, Any], block_id: str, action_id: str, yes: str, no: str
) -> bool | None:
    """The radio button chosen, as True (`yes`) or False (`no`); None when neither is."""
    option: Mapping[str, Any] = (
        _state(state_values, block_id, action_id).get("selected_option") or {}
    )
    return {yes: True, no: False}.get(option.get("value", ""))


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")
