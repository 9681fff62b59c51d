"""Where simulated messages go: a JSONL file, a Kafka topic, or both, paced in simulated time, with progress."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from pathlib import Path
from typing import IO, Protocol

from andon.errors import SimulationError
from andon.progressbar import ProgressLine
from andon.simulator.simulation import Simulation


class Sink(Protocol):
    def write(self, key: bytes, value: bytes, emit_ms: int) -> None: ...

    def close(self) -> None: ...


def truth_path_for(path: str | Path) -> Path:
    """trace.jsonl -> trace.truth.json (the ground truth lives beside the trace)."""
    return Path(path).with_suffix(".truth.json")


def write_truth(truth: dict, path: str | Path) -> Path:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(truth, indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


class JsonlSink:
    """One message per line; a batched message is one line holding a JSON array."""

    def __init__(self, path: str | Path, flush_each: bool = False) -> None:
        self.path = Path(path)
        try:
            self._file: IO[bytes] = open(self.path, "wb", buffering=1 << 20)
        except OSError as exc:
            raise SimulationError(f"cannot write {self.path}: {exc.strerror}",
                                  hint="pass --out a path in a writable directory") from None
        self.flush_each = flush_each

    def write(self, key: bytes, value: bytes, emit_ms: int) -> None:
        self._file.write(value + b"\n")
        if self.flush_each:
            self._file.flush()

    def close(self) -> None:
        self._file.close()


class KafkaSink:
    """confluent-kafka producer: key = machine id, value = the JSON bytes, timestamp = emission time."""

    def __init__(self, bootstrap: str, topic: str, config: dict[str, str] | None = None) -> None:
        from confluent_kafka import KafkaException, Producer

        conf = dict(config or {})
        conf.update({"bootstrap.servers": bootstrap, "linger.ms": "20", "message.timeout.ms": "60000",
                     "queue.buffering.max.messages": "200000"})
        self.topic = topic
        self.failed = 0
        self.first_error: str | None = None
        self._producer = Producer(conf)
        try:
            self._producer.list_topics(timeout=5)
        except KafkaException as exc:
            raise SimulationError(f"cannot reach Kafka at {bootstrap}: {exc}",
                                  hint="start a broker (e.g. `andon broker`) or pass --kafka HOST:PORT") from None
        self._sent = 0

    def _delivered(self, err, msg) -> None:
        if err is not None:
            self.failed += 1
            self.first_error = self.first_error or str(err)

    def write(self, key: bytes, value: bytes, emit_ms: int) -> None:
        while True:
            try:
                self._producer.produce(self.topic, value=value, key=key, timestamp=emit_ms,
                                       on_delivery=self._delivered)
                break
            except BufferError:
                self._producer.poll(0.1)  # local queue full: let deliveries drain, then retry
        self._sent += 1
        if self._sent % 1000 == 0:
            self._producer.poll(0)

    def close(self) -> None:
        remaining = self._producer.flush(120)
        if remaining or self.failed:
            raise SimulationError(
                f"{remaining + self.failed} messages were not delivered to {self.topic!r}"
                + (f" (first error: {self.first_error})" if self.first_error else ""),
                hint="check the broker and that the topic exists (or auto-creation is on), then run again",
            )


class Progress:
    """Simulated time and messages sent, through the shared progress display (a bar on a terminal, plain lines on
    a log), updated at most four times a second."""

    def __init__(self, sim: Simulation, stream: IO[str] | None = None) -> None:
        self.sim = sim
        self.bar = ProgressLine("simulate", stream=stream or sys.stderr).__enter__()
        self.started = time.monotonic()
        self.last_draw = 0.0
        self.lines = 0

    def update(self, emit_ms: int) -> None:
        self.lines += 1
        now = time.monotonic()
        if now - self.last_draw >= 0.25:
            self.draw(emit_ms, now)

    def draw(self, emit_ms: int, now: float) -> None:
        self.last_draw = now
        done = min(max(emit_ms - self.sim.start_ms, 0), self.sim.end_ms - self.sim.start_ms) / 1000
        total = (self.sim.end_ms - self.sim.start_ms) / 1000
        rate = self.lines / max(now - self.started, 1e-9)
        self.bar.update(done, total, text=f"{_hms(done)} of {_hms(total)} simulated ({100 * done / total:3.0f} %), "
                                          f"{self.lines:,} messages, {rate:,.0f}/s")

    def finish(self) -> None:
        self.draw(self.sim.end_ms, time.monotonic())
        self.bar.close()


def _hms(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def run(sim: Simulation, sinks: list[Sink], *, speed: float = 0.0, progress: Progress | None = None) -> dict:
    """Send every message to every sink, `speed` simulated seconds per wall second (0: as fast as possible)."""
    if speed < 0:
        raise SimulationError(f"--speed must be >= 0, got {speed}", hint="0 runs as fast as possible, 1 is real time")
    wall0 = time.monotonic()
    try:
        for key, value, emit_ms in sim.messages():
            if speed > 0:
                delay = (emit_ms - sim.start_ms) / 1000.0 / speed - (time.monotonic() - wall0)
                if delay > 0:
                    time.sleep(delay)
            for sink in sinks:
                sink.write(key, value, emit_ms)
            if progress is not None:
                progress.update(emit_ms)
    except BaseException:
        for sink in sinks:
            with contextlib.suppress(Exception):  # the first error is the one to report
                sink.close()
        raise
    finally:
        if progress is not None:
            progress.finish()
    for sink in sinks:
        sink.close()
    return sim.truth()
