"""Structured logs: one JSON object per line with the context fields passed in `extra=`; text for terminals."""

from __future__ import annotations

import io
import json
import logging

import pytest

from andon.errors import AndonError
from andon.logs import setup_from_args, setup_logging


@pytest.fixture(autouse=True)
def restore_root_logger():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_lines_carry_event_and_correlation_ids():
    out = io.StringIO()
    setup_logging(json=True, level="INFO", stream=out)
    log = logging.getLogger("andon.odoo_sync")
    log.info("odoo %s applied", "create", extra={"event_id": "e-1", "correlation_id": "c-1", "machine": "press-01",
                                                 "site": "plant-a"})
    log.debug("hidden")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed", extra={"event_id": "e-2"})
    first, second = [json.loads(line) for line in out.getvalue().splitlines()]
    assert first["msg"] == "odoo create applied" and first["level"] == "INFO" and first["logger"] == "andon.odoo_sync"
    assert (first["event_id"], first["correlation_id"], first["machine"], first["site"]) == ("e-1", "c-1", "press-01",
                                                                                            "plant-a")
    assert first["ts"].endswith("Z") and "T" in first["ts"]
    assert second["event_id"] == "e-2" and "ValueError: boom" in second["exc"] and "correlation_id" not in second


def test_text_format_keeps_the_context_readable():
    out = io.StringIO()
    setup_logging(json=False, level="WARNING", stream=out)
    logging.getLogger("x").warning("held", extra={"event_id": "e-9"})
    assert out.getvalue().rstrip().endswith("x: held [event_id=e-9]")


def test_options_and_environment(monkeypatch):
    from types import SimpleNamespace

    import click

    from andon.cli_env import Command
    from andon.pipelines.runner import observability_options

    @click.command(cls=Command)
    @observability_options
    def probe(**params):
        return SimpleNamespace(**params)

    def parse(*argv: str) -> SimpleNamespace:
        return probe.main(list(argv), standalone_mode=False)

    monkeypatch.setenv("ANDON_LOG_FORMAT", "json")
    args = parse()
    assert args.log_format == "json"
    setup_from_args(args)
    assert type(logging.getLogger().handlers[0].formatter).__name__ == "JsonFormatter"
    assert logging.getLogger().level == logging.INFO, "json logs every Odoo write by default"
    setup_from_args(parse("--log-format", "text"))
    assert logging.getLogger().level == logging.WARNING, "text on a terminal stays quiet by default"
    with pytest.raises(AndonError, match="log level"):
        setup_from_args(parse("--log-level", "LOUD"))
