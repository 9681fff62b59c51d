"""The one progress display of every long-running command: rich's live bar on a terminal, plain lines when stderr
is a log or a pipe (at most one every `every_s` seconds, and a last one at the end; never a carriage return).

Example::

    with ProgressLine("sync-shifts", unit="records") as bar:
        for done in range(1, 101):
            bar.update(done, 100)
    # on a log: "sync-shifts: 100/100 records (100 %)"
"""

from __future__ import annotations

import sys
import time
from typing import IO


class ProgressLine:
    def __init__(self, label: str, *, unit: str = "", every_s: float = 5.0, stream: IO[str] | None = None,
                 terminal: bool | None = None) -> None:
        self.label, self.unit, self.every_s = label, unit, every_s
        self.stream = stream or sys.stderr
        self.terminal = self.stream.isatty() if terminal is None else terminal
        self._last: float | None = None  # monotonic time of the last line; None: none yet, so the first is written
        self._closed = False
        self._state: tuple[float, float | None, str] | None = None
        self._written: tuple[float, float | None, str] | None = None
        self._bar = None
        self._task = None

    def __enter__(self) -> ProgressLine:
        if self.terminal:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[text]}"),
                                 TimeElapsedColumn(), console=Console(file=self.stream), transient=False)
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=None, text="")
        return self

    def line(self, done: float, total: float | None, text: str = "") -> str:
        if text:
            return f"{self.label}: {text}"
        unit = f" {self.unit}" if self.unit else ""
        if total:
            return f"{self.label}: {done:,.0f}/{total:,.0f}{unit} ({100 * done / total:3.0f} %)"
        return f"{self.label}: {done:,.0f}{unit}"

    def update(self, done: float, total: float | None = None, text: str = "") -> None:
        """Progress so far: `done` of `total` (None: unknown); `text` replaces the standard wording."""
        self._state = (done, total, text)
        if self._bar is not None:
            self._bar.update(self._task, completed=done, total=total,
                             text=text or self.line(done, total).split(": ", 1)[1])
            return
        now = time.monotonic()
        if self._last is None or now - self._last >= self.every_s:
            self._last = now
            self._write()

    def _write(self) -> None:
        if self._state is not None and self._state != self._written:
            self._written = self._state
            self.stream.write(self.line(*self._state) + "\n")
            self.stream.flush()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        elif self._state is not None and not self._closed:
            self._write()  # the final state, always
        self._closed = True

    def __exit__(self, *exc) -> None:
        self.close()
