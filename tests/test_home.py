"""The App Home's views are data: plain asserts on the Block Kit dicts, Slack's limits checked here
and by the Slack emulator."""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient

from bot.config import Settings
from bot.home import (
    EDIT_SETTINGS_ACTION,
    home_view,
)
from bot.localapi.vocabulary import CLASS_GROUPS
from bot.workspaces.settings import WorkspaceSettings
from tests.slack_emulator import SlackEmulator

EMBEDDED = Settings()
HOSTED = Settings(ii_client_id="client", ii_client_secret="secret")
MANY_CHANNELS = frozenset(f"C{n:010d}" for n in range(400))
LONG_CLASSES = tuple(f"class number {n}" for n in range(400))

# --- Slack's limits (docs.slack.dev/reference/views and /reference/block-kit) -------------------


def slack_problems(view: dict[str, Any]) -> list[str]:
    """Where `view` breaks a limit of Slack's view, block, element or text references."""
    problems: list[str] = []

    def check(ok: bool, what: str) -> None:
        if not ok:
            problems.append(what)

    def text(obj: Any, limit: int, what: str, plain: bool = True) -> None:
        types = ("plain_text",) if plain else ("plain_text", "mrkdwn")
        check(
            isinstance(obj, dict)
            and obj.get("type") in types
            and 0 < len(obj.get("text", "")) <= limit,
            f"{what}: a {'/'.join(types)} text of 1 to {limit} characters",
        )

    ids: dict[str, list[str]] = {"block_id": [], "action_id": []}

    def ident(obj: dict[str, Any], key: str, what: str) -> None:
        if key in obj:
            check(0 < len(obj[key]) <= 255, f"{what}: {key} of 1 to 255 characters")
            ids[key].append(obj[key])

    def option(obj: Any, what: str) -> None:
        text(obj.get("text"), 75, f"{what} text")
        check(0 < len(obj.get("value", "")) <= 150, f"{what}: value of 1 to 150 characters")

    def element(obj: dict[str, Any], what: str) -> None:
        ident(obj, "action_id", what)
        kind = obj["type"]
        if kind == "button":
            text(obj.get("text"), 75, f"{what} text")
            check(obj.get("style") in (None, "primary", "danger"), f"{what}: style")
        elif kind == "radio_buttons":
            options = obj.get("options", [])
            check(0 < len(options) <= 10, f"{what}: 1 to 10 options")
            for o in options:
                option(o, f"{what} option")
            check(
                "initial_option" not in obj or obj["initial_option"] in options,
                f"{what}: initial option",
            )
        elif kind == "plain_text_input":
            check(len(obj.get("initial_value", "")) <= 3000, f"{what}: initial value")
        elif kind == "multi_conversations_select":
            text(obj.get("placeholder"), 150, f"{what} placeholder")
            include = obj.get("filter", {}).get("include", ["public"])
            check(
                bool(include) and set(include) <= {"im", "mpim", "private", "public"},
                f"{what}: filter",
            )
            check(
                all(isinstance(c, str) for c in obj.get("initial_conversations", [])),
                f"{what}: initial conversations",
            )
        else:
            problems.append(f"{what}: unexpected element {kind}")

    check(view.get("type") in ("home", "modal"), "view type")
    blocks = view.get("blocks", [])
    check(0 < len(blocks) <= 100, "1 to 100 blocks")
    if view.get("type") == "modal":
        text(view.get("title"), 24, "title")
        for key in ("submit", "close"):
            if key in view:
                text(view[key], 24, key)
        check(0 < len(view.get("callback_id", "x")) <= 255, "callback_id")
        has_input = any(b["type"] == "input" for b in blocks)
        check("submit" in view or not has_input, "a modal with inputs needs submit")
    for n, block in enumerate(blocks):
        what = f"block {n} ({block['type']})"
        ident(block, "block_id", what)
        kind = block["type"]
        if kind == "header":
            text(block.get("text"), 150, what)
        elif kind == "section":
            text(block.get("text"), 3000, what, plain=False)
        elif kind == "context":
            elements = block.get("elements", [])
            check(0 < len(elements) <= 10, f"{what}: 1 to 10 elements")
            for e in elements:
                text(e, 3000, f"{what} element", plain=False)
        elif kind == "actions":
            elements = block.get("elements", [])
            check(0 < len(elements) <= 25, f"{what}: 1 to 25 elements")
            for e in elements:
                element(e, f"{what} element")
        elif kind == "input":
            check(view.get("type") == "modal", f"{what}: inputs only in modals here")
            text(block.get("label"), 2000, f"{what} label")
            if "hint" in block:
                text(block["hint"], 2000, f"{what} hint")
            element(block["element"], f"{what} element")
        elif kind != "divider":
            problems.append(f"{what}: unexpected block")
    for key, seen in ids.items():
        check(len(seen) == len(set(seen)), f"{key}s unique in the view")
    return problems


def test_the_limit_check_finds_what_slack_refuses() -> None:
    view = home_view(EMBEDDED, can_edit=True, class_groups=CLASS_GROUPS)
    assert slack_problems(view) == []
    too_long = {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}
    assert slack_problems({**view, "blocks": [too_long]}) == [
        "block 0 (section): a plain_text/mrkdwn text of 1 to 3000 characters"
    ]
    assert slack_problems({**view, "blocks": view["blocks"][:1] * 101}) == ["1 to 100 blocks"]
    twice = {**view, "blocks": view["blocks"] + view["blocks"][-1:]}
    assert slack_problems(twice) == ["action_ids unique in the view"]


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
    view = home_view(EMBEDDED, can_edit=False, class_groups=CLASS_GROUPS)
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
    view = home_view(EMBEDDED, can_edit=True, class_groups=CLASS_GROUPS)
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
    chosen = WorkspaceSettings(
        classes=("all",),
        auto_detect=False,
        annotate=False,
        allowed_channels=frozenset({"C2", "C1"}),
    )
    view = home_view(chosen.apply(EMBEDDED), can_edit=False, class_groups=CLASS_GROUPS)
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
    view = home_view(HOSTED, can_edit=True, class_groups=())
    text = "\n".join(texts(view))
    assert "hosted Image Intelligence account, so that account's class list applies" in text
    assert "*Classes I know*" not in text
    assert slack_problems(view) == []


def test_home_tab_escapes_classes_and_cuts_long_lists() -> None:
    odd = Settings(detect_classes=("<!here>", "fish & chips"), allowed_channels=frozenset({"C<1>"}))
    view = home_view(odd, can_edit=True, class_groups=CLASS_GROUPS)
    assert setting(view, "Default classes") == "&lt;!here&gt;, fish &amp; chips"
    assert setting(view, "Channels") == "<#C&lt;1&gt;>"

    many = Settings(detect_classes=LONG_CLASSES, allowed_channels=MANY_CHANNELS)
    view = home_view(many, can_edit=True, class_groups=CLASS_GROUPS)
    assert slack_problems(view) == []
    classes, channels = setting(view, "Default classes"), setting(view, "Channels")
    assert classes.startswith("class number 0, class number 1,") and classes.endswith(" more")
    assert channels.startswith("<#C0000000000>, <#C0000000001>,") and channels.endswith(" more")


# --- through Slack ------------------------------------------------------------------------------


def test_slack_takes_the_home_tab(slack: SlackEmulator) -> None:
    client = WebClient(token=slack.bot_token, base_url=slack.api_url)
    chosen = WorkspaceSettings(allowed_channels=MANY_CHANNELS, classes=LONG_CLASSES)
    for can_edit, groups in ((True, CLASS_GROUPS), (False, ())):
        home = home_view(chosen.apply(EMBEDDED), can_edit=can_edit, class_groups=groups)
        published = client.views_publish(user_id="U111", view=home)["view"]
        assert published["type"] == "home" and slack.home_view("U111") == published
        assert [b["type"] for b in published["blocks"]] == [b["type"] for b in home["blocks"]]
