"""Messages that leave a dataflow: Kafka-bound records and dead letters (with the reason, kept findable)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class OutMessage:
    """A message for a Kafka topic (or a JSONL file standing in for one)."""

    topic: str
    key: bytes | None
    value: bytes
    headers: Sequence[tuple[str, bytes]] = ()


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An input refused for good: the original bytes, why, what to do, and where it came from."""

    reason: str
    detail: str
    hint: str
    raw: bytes
    source_topic: str
    source_partition: int
    source_offset: int
    key: bytes | None = None

    def headers(self) -> list[tuple[str, bytes]]:
        return [
            ("andon.dlq.reason", self.reason.encode()),
            ("andon.dlq.detail", self.detail.encode("utf-8", "backslashreplace")[:1024]),
            ("andon.dlq.hint", self.hint.encode()),
            ("andon.source.topic", self.source_topic.encode()),
            ("andon.source.partition", str(self.source_partition).encode()),
            ("andon.source.offset", str(self.source_offset).encode()),
        ]

    def to_message(self, topic: str) -> OutMessage:
        return OutMessage(topic, self.key, self.raw, self.headers())

    def to_json(self) -> dict:
        return {"reason": self.reason, "detail": self.detail, "hint": self.hint,
                "source_topic": self.source_topic, "source_partition": self.source_partition,
                "source_offset": self.source_offset, "key": self.key.decode("utf-8", "replace") if self.key else None,
                "raw": self.raw.decode("utf-8", "replace")}


@dataclass(slots=True)
class RawBatch:
    """Raw messages of one partition, in offset order."""

    topic: str
    partition: int
    offsets: list[int]
    values: list[bytes]
    keys: list[bytes | None]
    timestamps: list[int]
    headers: list[list[tuple[str, bytes]] | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.values)
