"""The web process refuses a body over MAX_BODY_BYTES before reading it (413): every request Slack
can send the bot must fit, with room to spare. The figures are in docs/decisions.md, "The edge"."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from bot.process.web import MAX_BODY_BYTES
from tests.support.slack_emulator import load_payload
from tests.support.slack_signing import interactive_body

SLACK_MAX_TEXT = 40_000  # characters: Slack truncates a message's text beyond this


def as_sent(name: str) -> int:
    """The size of a payload file's body on the wire: an interaction as the `payload` form field,
    anything else as the JSON Slack posts."""
    payload = load_payload(name)
    if name.startswith("socket_mode_interactive"):
        return len(interactive_body(payload["payload"]))
    if "payload" in name or "action" in name:
        return len(interactive_body(payload))
    return len(json.dumps(payload).encode())


def test_slacks_largest_example_payloads_fit_ten_times_over():
    sizes = {
        name: as_sent(name)
        for name in (
            "socket_mode_interactive_block_actions_large_envelope.json",
            "bolt_view_submission_payload.json",
            "bolt_block_actions_payload.json",
            "bolt_message_file_share_event.json",
        )
    }
    largest = max(sizes, key=sizes.__getitem__)
    # A block_actions from a modal of 100 blocks, form-encoded: 89 kB.
    assert largest == "socket_mode_interactive_block_actions_large_envelope.json"
    assert sizes[largest] > 80_000 and sizes[largest] * 10 < MAX_BODY_BYTES


def test_an_edit_of_the_longest_message_fits_with_every_character_escaped():
    # message_changed carries the message before and after; each has its text twice (text and a
    # rich_text block), and a character outside ASCII is six bytes once JSON escapes it.
    text = "é" * SLACK_MAX_TEXT
    envelope = load_payload("bolt_message_file_share_event.json")
    message = dict(envelope["event"], text=text)
    message["blocks"][0]["elements"][0]["elements"][0]["text"] = text
    envelope["event"] = {
        "type": "message",
        "subtype": "message_changed",
        "message": message,
        "previous_message": message,
    }
    body = json.dumps(envelope).encode()  # ensure_ascii: "\u00e9" for each "é"

    assert 4 * 6 * SLACK_MAX_TEXT < len(body) < MAX_BODY_BYTES
    assert len(urlencode({"text": text}).encode()) < MAX_BODY_BYTES  # a slash command's text
