"""Image uploads end to end: signed Events API requests in, Web API calls to the emulator out.

The bot runs as `python -m bot run --http` would (tests/support/slackbot.py) against the Slack
emulator, with the embedded API and its real detector, or with a tests/support/faultserver.py API
when a test needs to see or steer what the API receives.
"""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

from tests.support.faultserver import faulty_api, first_poll_seen
from tests.support.photos import photo
from tests.support.slack_emulator import BOT_ID, BOT_USER_ID, SlackEmulator
from tests.support.slack_signing import file_share_event
from tests.support.slackbot import (
    CHANNEL,
    REPLY_TIMEOUT,
    USER,
    Bot,
    hosted,
    idle,
    running_bot,
    shared,
    shared_photo,
)


@pytest.fixture
def bot(slack: SlackEmulator) -> Iterator[Bot]:
    with running_bot(slack) as running:
        yield running


# -- helpers ------------------------------------------------------------------------------------


def summary(reply: dict[str, Any], name: str) -> str:
    """What the reply's fallback text says about the image `name` ("cat 85% · no dog found")."""
    (line,) = [
        part[len(name) :]
        for part in reply["text"].split("; ")
        if part.startswith((f"{name}: ", f"{name} "))
    ]
    return line.removeprefix(":").strip()


def found(line: str) -> str:
    """The "found" part of an image's summary line ("cat 85%"), without the "no ... found" part."""
    return line.split("no ")[0]


def section(reply: dict[str, Any], name: str) -> str:
    """The mrkdwn of the reply's section about the image `name`."""
    (text,) = [
        block["text"]["text"] for block in sections(reply) if f"*{name}*" in block["text"]["text"]
    ]
    return text


def sections(reply: dict[str, Any]) -> list[dict[str, Any]]:
    return [block for block in reply["blocks"] if block["type"] == "section"]


def context_text(reply: dict[str, Any]) -> str:
    contexts = [block for block in reply["blocks"] if block["type"] == "context"]
    return " ".join(element["text"] for block in contexts for element in block["elements"])


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def small_cat() -> bytes:
    """chelsea.png at 150x100: still a cat for the detector, and quick to move around."""
    with Image.open(io.BytesIO(photo("chelsea.png"))) as image:
        return png(image.convert("RGB").resize((150, 100)))


def share_in_thread(
    bot: Bot, slack: SlackEmulator, files: list[dict[str, Any]], thread_ts: str
) -> tuple[dict[str, Any], int]:
    """A file_share reply in the thread of `thread_ts`: the event and the ack's status."""
    _, envelope = shared(slack, files, thread_ts=thread_ts)
    return envelope["event"], bot.post_event(envelope).status_code


def reaction_calls(slack: SlackEmulator) -> list[tuple[str, str, str, str]]:
    """(method, name, channel, timestamp) of every reactions.* call, in order."""
    return [
        (call.method, call.args["name"], call.args["channel"], call.args["timestamp"])
        for call in slack.calls
        if call.method.startswith("reactions.")
    ]


def answered_only(bot: Bot, slack: SlackEmulator, ignored: list[dict[str, Any]]) -> None:
    """Share a real photo, wait until it is fully answered, then check that this photo's message
    got the only reply and the only reactions: none of the `ignored` events was acted on."""
    event, ack = bot.share(slack.add_image(photo("chelsea.png"), "chelsea.png"))
    assert ack.status_code == 200
    slack.wait_for("chat.postMessage", timeout=REPLY_TIMEOUT)
    idle(bot)
    posts = slack.calls_to("chat.postMessage")
    assert [(p.args["channel"], p.args["thread_ts"]) for p in posts] == [(CHANNEL, event["ts"])]
    assert {(channel, ts) for _, _, channel, ts in reaction_calls(slack)} == {
        (CHANNEL, event["ts"])
    }
    for other in ignored:
        assert slack.reactions(other["channel"], other["ts"]) == []
    assert slack.calls_to("chat.postEphemeral") == []


# -- the reply ----------------------------------------------------------------------------------


def test_an_uploaded_photo_gets_one_threaded_reply_naming_what_is_in_it(
    bot: Bot, slack: SlackEmulator
):
    event, ack = bot.share(slack.add_image(photo("chelsea.png"), "chelsea.png"))
    assert ack.status_code == 200

    reply = slack.wait_for("chat.postMessage", timeout=REPLY_TIMEOUT)[0].args
    assert reply["channel"] == CHANNEL
    assert reply["thread_ts"] == event["ts"]
    assert "chelsea.png" in reply["text"]
    assert "cat" in reply["text"].split("no ")[0]
    idle(bot)
    assert len(slack.calls_to("chat.postMessage")) == 1


def test_a_photo_shared_inside_a_thread_is_answered_in_that_thread(bot: Bot, slack: SlackEmulator):
    parent = slack.add_message(CHANNEL, "look at these", user=USER)
    event, status = share_in_thread(
        bot, slack, [slack.add_image(photo("chelsea.png"), "chelsea.png")], parent["ts"]
    )
    assert status == 200

    reply = slack.wait_for("chat.postMessage", timeout=REPLY_TIMEOUT)[0].args
    assert reply["thread_ts"] == parent["ts"] != event["ts"]
    assert "cat" in found(summary(reply, "chelsea.png"))
    idle(bot)
    # The outcome's mark goes on the shared message itself, not on the thread's parent.
    assert slack.reactions(CHANNEL, event["ts"]) == ["white_check_mark"]
    assert slack.reactions(CHANNEL, parent["ts"]) == []
    assert slack.uploads and {u.thread_ts for u in slack.uploads} == {parent["ts"]}


def test_photos_shared_in_private_channels_dms_and_group_dms_are_answered_there(
    bot: Bot, slack: SlackEmulator
):
    cat = photo("chelsea.png")
    kinds = {"C0PRIVATE1": "group", "D0DIRECT01": "im", "C0GROUPDM1": "mpim"}
    shared = {
        channel: bot.share(slack.add_image(cat, "c.png"), channel=channel, channel_type=kind)[0]
        for channel, kind in kinds.items()
    }
    slack.wait_for("chat.postMessage", 3, timeout=REPLY_TIMEOUT)
    idle(bot)
    for channel, event in shared.items():
        (reply,) = slack.replies(event["ts"], channel)
        assert found(summary(reply.args, "c.png")).startswith("cat ")


def test_several_images_in_one_message_get_one_reply_with_results_per_image(
    bot: Bot, slack: SlackEmulator
):
    names = ("chelsea.png", "astronaut.png", "coffee.png")
    event, _ = bot.share(*(slack.add_image(photo(name), name) for name in names))

    reply = slack.wait_for("chat.postMessage", timeout=REPLY_TIMEOUT)[0].args
    idle(bot)
    assert len(slack.calls_to("chat.postMessage")) == 1
    assert reply["thread_ts"] == event["ts"]
    assert [text.split(":")[0] for text in reply["text"].split("; ")] == list(names)
    assert found(summary(reply, "chelsea.png")).startswith("cat ")
    assert found(summary(reply, "astronaut.png")).startswith("person ")
    assert summary(reply, "coffee.png") == "no person, car, bicycle, dog, cat found"
    # A section per image, in order, each naming its file, and the one job id in small print.
    texts = [block["text"]["text"] for block in sections(reply)]
    assert [text.split("\n")[0] for text in texts] == [f"*{name}*" for name in names]
    assert "Found: cat" in texts[0] and "Found: person" in texts[1]
    assert "Not found: person, car, bicycle, dog, cat" in texts[2]
    assert context_text(reply).startswith("Job `")
    assert slack.reactions(CHANNEL, event["ts"]) == ["white_check_mark"]
    # One upload call, with the two images where something was found (nothing to draw on coffee).
    assert len(slack.calls_to("files.completeUploadExternal")) == 1
    assert [u.filename for u in slack.uploads] == ["chelsea-detected.jpg", "astronaut-detected.jpg"]


def test_a_file_that_is_not_an_image_says_why_while_the_others_get_results(
    bot: Bot, slack: SlackEmulator
):
    broken = slack.add_image(b"these bytes are no PNG at all", "broken.png", "image/png")
    assert broken["mimetype"] == "image/png"
    event, _ = bot.share(
        slack.add_image(photo("chelsea.png"), "chelsea.png"),
        broken,
        slack.add_image(photo("astronaut.png"), "astronaut.png"),
    )

    reply = slack.wait_for("chat.postMessage", timeout=REPLY_TIMEOUT)[0].args
    idle(bot)
    assert summary(reply, "broken.png") == "skipped (not an image)"
    assert found(summary(reply, "chelsea.png")).startswith("cat ")
    assert found(summary(reply, "astronaut.png")).startswith("person ")
    assert sections(reply)[1]["text"]["text"].startswith(":warning: *broken.png*")
    assert slack.reactions(CHANNEL, event["ts"]) == ["warning"]
    assert reaction_calls(slack) == [("reactions.add", "warning", CHANNEL, event["ts"])]


def test_detect_classes_set_what_is_looked_for_and_unsupported_ones_say_so(
    slack: SlackEmulator,
):
    # A hosted account: with the embedded detector, DETECT_CLASSES=unicorn stops the bot at start.
    with (
        faulty_api() as api,
        running_bot(slack, DETECT_CLASSES="Cat, people, unicorn", **hosted(api)) as bot,
    ):
        bot.share(
            slack.add_image(photo("chelsea.png"), "chelsea.png"),
            slack.add_image(photo("astronaut.png"), "astronaut.png"),
        )
        reply = slack.wait_for("chat.postMessage", timeout=REPLY_TIMEOUT)[0].args
        idle(bot)
    cat, person = summary(reply, "chelsea.png"), summary(reply, "astronaut.png")
    assert cat.startswith("cat ") and cat.endswith(" · no people found · unicorn not supported")
    assert person.startswith("people ")  # a synonym of the detector's "person"
    assert person.endswith(" · no cat found · unicorn not supported")
    assert "Not supported by this detector: unicorn" in section(reply, "chelsea.png")


def test_detect_classes_all_answers_what_is_in_the_photo_and_uploads_it_annotated(
    slack: SlackEmulator,
):
    with running_bot(slack, DETECT_CLASSES="all") as bot:
        bot.share(slack.add_image(photo("grace_hopper.jpg"), "grace_hopper.jpg"))
        reply = slack.wait_for("chat.postMessage", timeout=REPLY_TIMEOUT)[0].args
        idle(bot)
    items = summary(reply, "grace_hopper.jpg").split(", ")
    assert [item.rsplit(" ", 1)[0] for item in items][:1] == ["person"]
    assert {"face", "tie"} <= {item.rsplit(" ", 1)[0] for item in items}
    (upload,) = slack.uploads
    assert upload.filename == "grace_hopper-detected.jpg"


# -- the outcome's mark --------------------------------------------------------------------------


def test_one_mark_once_the_reply_and_the_annotated_image_are_posted_and_none_before(
    slack: SlackEmulator,
):
    with faulty_api() as api, running_bot(slack, **hosted(api)) as bot:
        api.hold_jobs()
        polled = first_poll_seen(api)
        event, _ = bot.share(slack.add_image(photo("chelsea.png"), "chelsea.png"))
        assert polled.wait(REPLY_TIMEOUT)
        # Work has started and is not done: no reaction spent on saying so, no reply yet.
        assert slack.reactions(CHANNEL, event["ts"]) == []
        assert slack.calls_to("chat.postMessage") == []

        api.hold_jobs(0)
        slack.wait_for("chat.postMessage", timeout=REPLY_TIMEOUT)
        idle(bot)

    assert slack.reactions(CHANNEL, event["ts"]) == ["white_check_mark"]
    assert reaction_calls(slack) == [("reactions.add", "white_check_mark", CHANNEL, event["ts"])]
    order = [c.method for c in slack.calls if c.method != "auth.test"]
    assert order.index("chat.postMessage") < order.index("files.completeUploadExternal")
    assert order[-1] == "reactions.add"


def test_a_reply_slack_refuses_ends_with_a_warning_and_no_annotated_image(
    bot: Bot, slack: SlackEmulator, caplog: pytest.LogCaptureFixture
):
    slack.error_next("chat.postMessage", "fatal_error")
    event, _ = bot.share(slack.add_image(photo("chelsea.png"), "chelsea.png"))
    slack.wait_for("chat.postMessage", timeout=REPLY_TIMEOUT)
    idle(bot)

    assert slack.calls_to("chat.postMessage")[0].response["error"] == "fatal_error"
    assert [m for m in slack.messages(CHANNEL) if m.get("thread_ts")] == []
    # Nor the annotated image it would illustrate, nor a check mark saying all went well.
    assert slack.uploads == [] and not slack.calls_to("files.getUploadURLExternal")
    assert slack.reactions(CHANNEL, event["ts"]) == ["warning"]
    assert "chat.postMessage to C0CHANNEL1 failed: fatal_error" in caplog.text


# -- the annotated image ------------------------------------------------------------------------


def test_the_annotated_image_is_a_jpeg_the_size_the_api_saw_uploaded_into_the_thread(
    slack: SlackEmulator,
):
    # Bigger than 1024 px, so the bot sends Slack's 1024 px thumbnail, and boxes are in its pixels.
    with Image.open(io.BytesIO(photo("chelsea.png"))) as image:
        big = image.convert("RGB").resize((2048, 1362))
    data = io.BytesIO()
    big.save(data, "JPEG", quality=90)
    with faulty_api() as api, running_bot(slack, **hosted(api)) as bot:
        event, _ = bot.share(slack.add_image(data.getvalue(), "big cat.jpg"))
        reply = slack.wait_for("chat.postMessage", timeout=REPLY_TIMEOUT)[0].args
        idle(bot)
        (sent,) = api.bodies("POST /detect")

    with Image.open(io.BytesIO(base64.b64decode(sent["images"][0]["blob"]))) as seen:
        seen_size = seen.size
    assert seen_size == (1024, 681)
    assert found(summary(reply, "big cat.jpg")).startswith("cat ")
    (upload,) = slack.uploads
    assert (upload.channel_id, upload.thread_ts) == (CHANNEL, event["ts"])
    assert (upload.filename, upload.title) == ("big cat-detected.jpg", "big cat.jpg")
    with Image.open(io.BytesIO(upload.content)) as annotated:
        assert (annotated.format, annotated.size) == ("JPEG", seen_size)
    # It is in the thread as Slack shows it: a bot message in the reply's thread, with the file.
    (shared,) = [m for m in slack.messages(CHANNEL) if m.get("files") and m.get("bot_id")]
    assert (shared["thread_ts"], shared["files"][0]["id"]) == (event["ts"], upload.file_id)


def test_a_refused_annotated_upload_still_leaves_the_reply_and_the_check_mark(
    bot: Bot, slack: SlackEmulator, caplog: pytest.LogCaptureFixture
):
    slack.error_next("files.getUploadURLExternal", "not_allowed_token_type")
    event, _ = bot.share(slack.add_image(photo("chelsea.png"), "chelsea.png"))
    reply = slack.wait_for("chat.postMessage", timeout=REPLY_TIMEOUT)[0].args
    idle(bot)

    assert found(summary(reply, "chelsea.png")).startswith("cat ")
    assert slack.uploads == []
    assert slack.reactions(CHANNEL, event["ts"]) == ["white_check_mark"]
    assert "files.upload_v2 to C0CHANNEL1 failed: not_allowed_token_type" in caplog.text


def test_annotate_false_posts_the_reply_without_an_image(slack: SlackEmulator):
    with running_bot(slack, ANNOTATE="false") as bot:
        bot.share(slack.add_image(photo("chelsea.png"), "chelsea.png"))
        reply = slack.wait_for("chat.postMessage", timeout=REPLY_TIMEOUT)[0].args
        idle(bot)
    assert "cat" in found(summary(reply, "chelsea.png"))
    assert slack.uploads == []
    assert not [c for c in slack.calls if c.method.startswith("files.")]


# -- what the bot stays quiet about -------------------------------------------------------------


def test_a_message_with_only_non_image_files_is_ignored(bot: Bot, slack: SlackEmulator):
    pdf = slack.add_image(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\n", "report.pdf")
    text = slack.add_image(b"just some notes\n", "notes.txt")
    assert (pdf["mimetype"], text["mimetype"]) == ("application/pdf", "text/plain")
    event, ack = bot.share(pdf, text)
    assert ack.status_code == 200
    answered_only(bot, slack, [event])
    assert not [r for r in slack.file_requests if "report.pdf" in r.path or "notes" in r.path]


def _edited_and_deleted(slack: SlackEmulator) -> list[dict[str, Any]]:
    """Envelopes of a message_changed and a message_deleted event about a shared image
    (shapes from docs.slack.dev/reference/events/message/message_changed and .../message_deleted)."""
    original, template = shared_photo(slack)
    files = original["files"]
    shared_event = template["event"]
    envelopes = []
    for subtype in ("message_changed", "message_deleted"):
        ts = slack.add_message(CHANNEL, "", user=USER)["ts"]  # a fresh ts for the edit event
        event: dict[str, Any] = {
            "type": "message",
            "subtype": subtype,
            "hidden": True,
            "channel": CHANNEL,
            "channel_type": "channel",
            "ts": ts,
            "event_ts": ts,
            "previous_message": shared_event,
        }
        if subtype == "message_changed":
            event["message"] = {
                **shared_event,
                "text": "edited",
                "edited": {"user": USER, "ts": ts},
            }
        else:
            event["deleted_ts"] = shared_event["ts"]
        envelope = file_share_event(files, channel=CHANNEL, ts=ts, user=USER)
        envelope["event"] = event
        envelopes.append(envelope)
    return envelopes


def test_edited_and_deleted_messages_are_ignored(bot: Bot, slack: SlackEmulator):
    envelopes = _edited_and_deleted(slack)
    for envelope in envelopes:
        assert bot.post_event(envelope).status_code == 200
    answered_only(bot, slack, [e["event"] for e in envelopes])


def test_images_shared_by_bots_are_ignored_its_own_included(bot: Bot, slack: SlackEmulator):
    cat = photo("chelsea.png")
    other = file_share_event(
        [slack.add_image(cat, "other.png")],
        channel=CHANNEL,
        ts=slack.add_message(CHANNEL, "", user="U0OTHERBOT")["ts"],
        user="U0OTHERBOT",
        bot_id="B0OTHERBOT",
    )
    own = file_share_event(
        [slack.add_image(cat, "chelsea-detected.jpg", user=BOT_USER_ID)],
        channel=CHANNEL,
        ts=slack.add_message(CHANNEL, "", user=BOT_USER_ID)["ts"],
        user=BOT_USER_ID,
        bot_id=BOT_ID,
    )
    for envelope in (other, own):
        assert bot.post_event(envelope).status_code == 200
    answered_only(bot, slack, [other["event"], own["event"]])


def test_channels_outside_allowed_channels_are_ignored(slack: SlackEmulator):
    elsewhere = "C0ELSEWHERE"
    with running_bot(slack, ALLOWED_CHANNELS=f"C0SOMEWHERE, {CHANNEL}") as bot:
        event, ack = bot.share(slack.add_image(photo("chelsea.png"), "c.png"), channel=elsewhere)
        assert ack.status_code == 200
        answered_only(bot, slack, [event])
    assert not [c for c in slack.calls if c.args.get("channel") == elsewhere]


def test_with_auto_detect_off_only_a_message_mentioning_the_bot_is_processed(
    slack: SlackEmulator,
):
    with running_bot(slack, AUTO_DETECT="false") as bot:
        cat = photo("chelsea.png")
        quiet, _ = bot.share(slack.add_image(cat, "a.png"), text="our cat <@U0PERSON02>")
        asked, _ = bot.share(slack.add_image(cat, "b.png"), text=f"<@{BOT_USER_ID}> what is this?")
        reply = slack.wait_for("chat.postMessage", timeout=REPLY_TIMEOUT)[0].args
        idle(bot)
    assert [c.args["thread_ts"] for c in slack.calls_to("chat.postMessage")] == [asked["ts"]]
    assert "cat" in found(summary(reply, "b.png"))
    assert slack.reactions(CHANNEL, quiet["ts"]) == []
    assert slack.reactions(CHANNEL, asked["ts"]) == ["white_check_mark"]


# -- Slack's files, through the bot -------------------------------------------------------------


def test_a_slack_connect_stub_is_resolved_with_files_info(bot: Bot, slack: SlackEmulator):
    stub = slack.add_image(photo("chelsea.png"), "chelsea.png", stub=True)
    assert stub == {"id": stub["id"], "file_access": "check_file_info"}
    event, _ = bot.share(stub)

    reply = slack.wait_for("chat.postMessage", timeout=REPLY_TIMEOUT)[0].args
    idle(bot)
    assert [c.args["file"] for c in slack.calls_to("files.info")] == [stub["id"]]
    assert "cat" in found(summary(reply, "chelsea.png"))
    assert slack.reactions(CHANNEL, event["ts"]) == ["white_check_mark"]


def test_a_stub_of_a_deleted_file_says_it_was_deleted(bot: Bot, slack: SlackEmulator):
    stub = slack.add_image(photo("chelsea.png"), "chelsea.png", stub=True)
    slack.error_next("files.info", "file_deleted")
    bot.share(stub)

    reply = slack.wait_for("chat.postMessage", timeout=REPLY_TIMEOUT)[0].args
    assert section(reply, stub["id"]) == f":warning: *{stub['id']}* was skipped: it was deleted"


def test_files_slack_will_not_give_are_named_with_the_reason(bot: Bot, slack: SlackEmulator):
    cat = photo("chelsea.png")
    hidden = slack.add_image(cat, "old.png", mode="hidden_by_limit")
    deleted = slack.add_image(cat, "gone.png", mode="tombstone")
    scanning = slack.add_image(cat, "fresh.png", scanning=True)
    assert "mimetype" not in scanning
    event, _ = bot.share(slack.add_image(cat, "chelsea.png"), hidden, deleted, scanning)

    reply = slack.wait_for("chat.postMessage", timeout=REPLY_TIMEOUT)[0].args
    idle(bot)
    assert found(summary(reply, "chelsea.png")).startswith("cat ")
    # Hidden and deleted files come as {"id", "mode"} only: the id is all there is to name them by.
    assert section(reply, hidden["id"]) == (
        f":warning: *{hidden['id']}* was skipped: "
        "it is hidden by this workspace's file storage limit"
    )
    assert (
        section(reply, deleted["id"]) == f":warning: *{deleted['id']}* was skipped: it was deleted"
    )
    assert section(reply, "fresh.png") == (
        ":warning: *fresh.png* was skipped: Slack is still processing it; try again in a minute"
    )
    assert slack.reactions(CHANNEL, event["ts"]) == ["warning"]
    # Only the good one was downloaded.
    assert {r.path.rsplit("/", 1)[-1] for r in slack.file_requests} == {"chelsea.png"}


def test_a_file_over_max_image_bytes_is_too_large_while_the_other_gets_its_result(
    slack: SlackEmulator,
):
    big, small = photo("astronaut.png"), photo("chelsea.png")
    assert len(small) < 300_000 < len(big)
    with running_bot(slack, MAX_IMAGE_BYTES="300000") as bot:
        event, _ = bot.share(
            slack.add_image(big, "astronaut.png"), slack.add_image(small, "chelsea.png")
        )
        reply = slack.wait_for("chat.postMessage", timeout=REPLY_TIMEOUT)[0].args
        idle(bot)
    assert summary(reply, "astronaut.png") == "skipped (too large (792 kB, limit 300 kB))"
    assert found(summary(reply, "chelsea.png")).startswith("cat ")
    assert slack.reactions(CHANNEL, event["ts"]) == ["warning"]


def test_the_bot_token_is_not_sent_where_slack_redirects_off_its_host(slack: SlackEmulator):
    # The emulator's off-Slack host is localhost: a private address, followed once allowed.
    with running_bot(slack, LOCAL_API_ALLOW_PRIVATE_HOSTS="localhost") as bot:
        shared = slack.add_image(photo("chelsea.png"), "chelsea.png", redirect="offhost")
        event, _ = bot.share(shared)
        reply = slack.wait_for("chat.postMessage", timeout=REPLY_TIMEOUT)[0].args
        idle(bot)
    assert reply["thread_ts"] == event["ts"]
    assert "cat" in found(summary(reply, "chelsea.png"))
    # Downloaded to detect, and again (a later run) to draw on: each time Slack, then off it.
    requests = slack.file_requests
    assert len(requests) in (2, 4)
    for first, second in zip(requests[::2], requests[1::2], strict=True):
        assert (first.host, first.status) == (f"127.0.0.1:{slack.port}", 302)
        assert first.authorization == f"Bearer {slack.bot_token}"
        assert (second.host, second.status) == (f"localhost:{slack.port}", 200)
        assert second.authorization is None


# -- more images than one job takes -------------------------------------------------------------


def test_65_images_are_split_into_two_jobs_and_answered_in_one_reply(slack: SlackEmulator):
    cat = small_cat()
    images = [
        cat if n in (0, 64) else png(Image.new("RGB", (16, 16), (n * 3, 90, 200)))
        for n in range(65)
    ]
    names = [f"tiny-{n:02d}.png" for n in range(65)]
    with faulty_api() as api, running_bot(slack, **hosted(api)) as bot:
        started = time.monotonic()
        event, _ = bot.share(*(slack.add_image(d, n) for d, n in zip(images, names, strict=True)))
        reply = slack.wait_for("chat.postMessage", timeout=REPLY_TIMEOUT)[0].args
        elapsed = time.monotonic() - started
        idle(bot)
        bodies = api.bodies("POST /detect")
        polled = [r.path.removeprefix("/detect/") for r in api.requests if r.method == "GET"]

    assert [len(body["images"]) for body in bodies] == [64, 1]
    job_ids = list(dict.fromkeys(polled))
    assert len(job_ids) == 2
    assert len(slack.calls_to("chat.postMessage")) == 1
    assert reply["thread_ts"] == event["ts"]
    assert sections(reply)[0]["text"]["text"].startswith("*tiny-00.png*\nFound: cat ")
    rest = sections(reply)[-1]["text"]["text"].split("\n")
    assert rest[0] == "*…and 17 more images:*"
    assert rest[-1].startswith("tiny-64.png: cat ")  # the second job's only image
    # Every image is in the blocks: 48 sections, then one summing up the rest (Slack's 50 blocks).
    assert len(reply["blocks"]) == 50
    text = "\n".join(block["text"]["text"] for block in sections(reply))
    assert all(text.count(name) == 1 for name in names)
    assert context_text(reply) == f"Jobs `{job_ids[0]}`, `{job_ids[1]}`"
    # The first section's "Report a mistake" control points at the first job.
    options = sections(reply)[0]["accessory"]["options"]
    assert options[0]["value"] == f"fb1|P|{job_ids[0]}|cat"
    assert elapsed < 10, f"65 tiny images took {elapsed:.1f} s"
