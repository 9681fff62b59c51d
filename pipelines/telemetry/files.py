"""Line formats of the file outputs of `andon replay` (events.jsonl is encoded by andon.events)."""

from __future__ import annotations

import msgspec

from andon.messages import DeadLetter

_encoder = msgspec.json.Encoder()


def dead_letter_line(dead: DeadLetter) -> bytes:
    return _encoder.encode(dead.to_json())
