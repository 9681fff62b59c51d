"""Exit statuses: the error that caused a failure is found through bytewax's wrappers and mapped to its status."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from andon.connectors.kafka import KafkaIOError
from andon.connectors.odoo.errors import OdooAuthError, OdooTransientError
from andon.errors import ConfigError, ResourceError, SimulationError
from andon.exits import EXIT_STATUSES, explain, table_markdown

ROOT = Path(__file__).resolve().parents[2]


class BytewaxRuntimeError(RuntimeError):
    """Stands for bytewax's wrapper: `error calling ... in step ...`."""


BytewaxRuntimeError.__module__ = "bytewax.errors"


def wrapped(exc: BaseException, depth: int = 2) -> BaseException:
    """`exc` raised inside a dataflow step: chained under bytewax runtime errors as bytewax does."""
    inner = exc
    for n in range(depth):
        try:
            raise BytewaxRuntimeError(f"(src/worker.rs:{n}): error calling step") from inner
        except BytewaxRuntimeError as outer:
            inner = outer
    return inner


@pytest.mark.parametrize(
    ("exc", "status", "text"),
    [
        (ConfigError("invalid site config", hint="fix it"), 2, "invalid site config\n  what to do: fix it"),
        (SimulationError("--hours must be positive", hint="pass --hours 8"), 2, "--hours must be positive"),
        (KafkaIOError("cannot reach Kafka at '127.0.0.1:1'", hint="check"), 3, "cannot reach Kafka"),
        (OdooAuthError("login refused", method="login"), 3, "Odoo login: login refused"),
        (OdooTransientError("503", reason="unavailable"), 3, "Odoo: 503"),
        (ResourceError("port 9100 is in use", hint="choose another"), 4, "port 9100 is in use"),
        (OSError(errno.EADDRINUSE, "Address already in use"), 4, "what to do: stop what listens on that port"),
        (OSError(errno.ENOSPC, "writing Parquet file x failed: No space left"), 4, "No space left"),
        (PermissionError(errno.EACCES, "Permission denied: '/data'"), 4, "Permission denied"),
        (ZeroDivisionError("division by zero"), 5, "internal error: ZeroDivisionError: division by zero"),
    ],
)
@pytest.mark.parametrize("depth", [0, 3])
def test_error_maps_to_its_documented_status_and_one_message(exc, status, text, depth):
    got_status, message = explain(wrapped(exc, depth) if depth else exc)
    assert got_status == status and got_status in EXIT_STATUSES
    assert text in message and "what to do" in message
    assert "bytewax" not in message and "src/worker.rs" not in message


@pytest.mark.parametrize("doc", ["README.md", "docs/architecture.md"])
def test_the_docs_carry_the_exit_status_table(doc):
    assert table_markdown() in (ROOT / doc).read_text(encoding="utf-8")
