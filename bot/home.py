"""The App Home: the Home tab and the workspace settings modal, as Block Kit views; pure functions.

`home_view` is published with `views.publish` on `app_home_opened`: what the bot does, how to use it,
the classes it knows and this workspace's settings as they apply now, with an "Edit settings" button
(`EDIT_SETTINGS_ACTION`) for admins and owners.

Slack's limits are kept here (docs.slack.dev/reference/views, .../block-kit): at most 100 blocks per
view, 3000 characters per section text, 150 per header, 24 per modal title/submit/close, 75 per
button and option text, 150 per option value; lists that could outgrow a text are cut with
"…and N more", and user-provided text is escaped for mrkdwn.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.classes import ALL, everything
from bot.config import Settings
from bot.replies import MAX_TEXT, _fit, escape, help_message

EDIT_SETTINGS_ACTION = "edit_settings"

EVERY_UPLOAD, MENTIONED_ONLY = "every_upload", "mentioned_only"
ANNOTATE_ON, ANNOTATE_OFF = "on", "off"

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
    effective: Settings, *, can_edit: bool, class_groups: Sequence[tuple[str, Sequence[str]]]
) -> dict[str, Any]:
    """The Home tab, for the settings that apply in the workspace now (`WorkspaceSettings.apply`).

    `class_groups` are the classes the detector knows, by group (`CLASS_GROUPS` for the embedded
    detector); none for a hosted account, whose own class list applies. `can_edit`: the viewer is an
    admin or owner of the workspace, and gets the "Edit settings" button.
    """
    boxes = ", and upload the image with boxes drawn around them" if effective.annotate else ""
    mention = "" if effective.auto_detect else " Mention me in the message, as set below."
    blocks: list[dict[str, Any]] = [
        _header("What I do"),
        _section(
            "I say what is in the images shared in the channels I'm in: in the message's thread, "
            f"I list the objects I found and how sure I am{boxes}."
        ),
        _header("How to use me"),
        _section(
            "*Share images* in a channel I was invited to (`/invite` and my name): I answer in the "
            f"thread.{mention}"
        ),
        _section(
            "*Detect objects*: the message shortcut (a message's ⋮ menu) looks at the images of "
            "any message, in a channel I'm in."
        ),
        _section(
            "*Report a mistake*: the menu under each result. Tell me a class that is not in the "
            "image, or one I missed; it goes to the Image Intelligence API to improve the detector."
        ),
        *help_message(groups=class_groups)["blocks"],
    ]
    if not class_groups:
        blocks.append(
            _section(
                "*Classes*: this bot uses a hosted Image Intelligence account, so that account's "
                "class list applies. Name the classes to look for."
            )
        )
    blocks += [{"type": "divider"}, _header("Settings in this workspace"), *_settings(effective)]
    if can_edit:
        button = {
            "type": "button",
            "action_id": EDIT_SETTINGS_ACTION,
            "text": {"type": "plain_text", "text": "Edit settings"},
            "style": "primary",
        }
        blocks.append({"type": "actions", "elements": [button]})
    else:
        note = "Only workspace admins and owners can change these settings."
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": note}]})
    return {"type": "home", "blocks": blocks}


def _settings(effective: Settings) -> list[dict[str, Any]]:
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
    body = value if isinstance(value, str) else _fit(value, ", ", MAX_TEXT - len(head))
    return _section(head + body)


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": text}}


def _section(mrkdwn: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn}}


def _upload_choice(effective: Settings) -> str:
    return EVERY_UPLOAD if effective.auto_detect else MENTIONED_ONLY


def _annotate_choice(effective: Settings) -> str:
    return ANNOTATE_ON if effective.annotate else ANNOTATE_OFF
