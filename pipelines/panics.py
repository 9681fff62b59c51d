"""Keep Rust panic reports off stderr while a bytewax dataflow runs.

When a Python error ends a dataflow, bytewax's Rust worker panics on its way out and the Rust runtime prints
`thread '…' panicked at src/run.rs:…` and a stack backtrace straight to file descriptor 2, before Python sees
the error. The error itself is reported by `andon.cli` as one message; the panic report says nothing more to a
user. While the dataflow runs, descriptor 2 goes through a pipe, and a thread copies everything to the real
stderr except those panic blocks. ANDON_DEBUG=1 leaves stderr alone.

Example::

    with rust_panics_hidden():
        cli_main(flow)
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading

_PANIC_START = re.compile(rb"^thread '.*' panicked at ")
_PANIC_END = re.compile(rb"^note: (run with `RUST_BACKTRACE|Some details are omitted)")
_FRAME = re.compile(rb"^(stack backtrace:|\s+\d+: |\s+at )")


def drop_panics(lines, write) -> None:
    """Copy `lines` (bytes, with their newlines) to `write`, leaving out Rust panic reports."""
    inside = False
    for line in lines:
        if not inside and _PANIC_START.match(line):
            inside = True
            continue
        if inside:
            if _PANIC_END.match(line):
                inside = False
            elif not (_FRAME.match(line) or line.strip() in {b"Box<dyn Any>", b""}):
                inside = False  # not part of a panic report after all: keep it
                write(line)
            continue
        write(line)


def _lines(fd: int):
    """Lines read from `fd` as they arrive, each ending in \n or \r (Rust writes a panic report in pieces, so
    only whole lines are judged)."""
    pending = b""
    while chunk := os.read(fd, 65536):
        pending += chunk
        parts = re.split(rb"(?<=[\n\r])", pending)
        pending = parts.pop()
        yield from parts
    if pending:
        yield pending


@contextlib.contextmanager
def rust_panics_hidden():
    if os.environ.get("ANDON_DEBUG"):
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except OSError:  # no usable stderr: nothing to filter
        yield
        return
    read_fd, write_fd = os.pipe()
    os.dup2(write_fd, 2)
    os.close(write_fd)

    def pump() -> None:
        drop_panics(_lines(read_fd), lambda line: os.write(saved, line))
        os.close(read_fd)

    thread = threading.Thread(target=pump, name="andon-stderr", daemon=True)
    thread.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)  # closes the pipe's last write end: the pump sees its end and stops
        thread.join(timeout=5)
        os.close(saved)
