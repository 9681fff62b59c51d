"""JSONL files in place of Kafka topics: a batch source (one partition per file) and an append-only sink.

The source's resume state is the byte offset of the next line; the sink's is the file length at the snapshot, and
a resumed sink truncates back to it, so a replay after a crash writes every line exactly once.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from bytewax.outputs import FixedPartitionedSink, StatefulSinkPartition

from andon import shutdown
from andon.errors import AndonError
from andon.messages import RawBatch
from andon.progress import PROGRESS


class InputFileError(AndonError, FileNotFoundError):
    """An input file is missing or unreadable."""


class _FilePartition(StatefulSourcePartition[RawBatch, tuple[int, int]]):
    def __init__(self, path: Path, index: int, batch_lines: int, resume: tuple[int, int] | None):
        self._file = open(path, "rb")
        self._line, offset = resume or (0, 0)
        self._file.seek(offset)
        self._topic = f"file:{path.name}"
        self._index = index
        self._batch_lines = batch_lines

    def next_batch(self) -> list[RawBatch]:
        if shutdown.requested():  # SIGTERM/SIGINT: end the input; outputs are flushed, the state snapshotted
            raise StopIteration
        PROGRESS.polled()
        lines = []
        for _ in range(self._batch_lines):
            line = self._file.readline()
            if not line:
                break
            lines.append(line)
        if not lines:
            raise StopIteration
        start = self._line
        values = [line.rstrip(b"\r\n") for line in lines]
        self._line += len(lines)
        keep = [i for i, v in enumerate(values) if v.strip()]
        return [RawBatch(self._topic, self._index, [start + i for i in keep], [values[i] for i in keep],
                         [None] * len(keep), [0] * len(keep), [None] * len(keep))]

    def snapshot(self) -> tuple[int, int]:
        return self._line, self._file.tell()

    def close(self) -> None:
        self._file.close()


class JsonlBatchSource(FixedPartitionedSource[RawBatch, tuple[int, int]]):
    """Reads files line by line in batches; offsets in RawBatch are line numbers (from 0)."""

    def __init__(self, paths: Sequence[str | Path], *, batch_lines: int = 10_000) -> None:
        self.paths = [Path(p) for p in paths]
        for path in self.paths:
            if not path.is_file():
                raise InputFileError(f"input file {path} does not exist", hint="pass an existing JSONL file")
        if batch_lines < 1:
            raise ValueError("batch_lines must be at least 1")
        self.batch_lines = batch_lines

    def list_parts(self) -> list[str]:
        return [f"{i}:{p.name}" for i, p in enumerate(self.paths)]

    def build_part(self, step_id: str, for_part: str, resume_state: tuple[int, int] | None) -> _FilePartition:
        index = int(for_part.split(":", 1)[0])
        return _FilePartition(self.paths[index], index, self.batch_lines, resume_state)


class _AppendPartition(StatefulSinkPartition[bytes, int]):
    def __init__(self, path: Path, resume: int | None):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(path, "ab")
        self._file.truncate(resume or 0)
        self._file.seek(0, os.SEEK_END)

    def write_batch(self, values: list[bytes]) -> None:
        self._file.write(b"".join(v if v.endswith(b"\n") else v + b"\n" for v in values))
        self._file.flush()

    def snapshot(self) -> int:
        self._file.flush()
        return self._file.tell()

    def close(self) -> None:
        self._file.close()


class JsonlSink(FixedPartitionedSink[bytes, int]):
    """Appends lines to one file; items are ``(any_key, line_bytes)``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def list_parts(self) -> list[str]:
        return [self.path.name]

    def part_fn(self, item_key: str) -> int:
        return 0

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> _AppendPartition:
        return _AppendPartition(self.path, resume_state)
