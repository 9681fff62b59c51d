"""Logging for the run commands: one JSON object per line (for log shippers) or plain text (for people).

Example::

    setup_logging(json=True, level="INFO")
    log.info("odoo write applied", extra={"event_id": e.event_id, "correlation_id": cid, "machine": e.machine})
    # {"ts":"2026-03-02T05:01:10.123Z","level":"INFO","logger":"andon.odoo_sync","msg":"odoo write applied",
    #  "event_id":"…","correlation_id":"…","machine":"press-01"}

The context fields `event_id`, `correlation_id`, `machine`, `site` (and a few more, see CONTEXT_FIELDS) are
written when the call passes them with `extra=`; absent ones are left out. Exceptions go to `exc` as text.
"""

from __future__ import annotations

import json as _json
import logging
import sys
from datetime import UTC, datetime

#: `extra=` keys copied into a JSON line when present, in this order.
CONTEXT_FIELDS = ("event_id", "correlation_id", "event_type", "machine", "site", "work_center", "model",
                  "operation", "outcome", "reason", "topic", "partition", "offset")
LOG_FORMATS = ("text", "json")
#: Kafka header carrying the correlation id from a reading (or an event producer) to the Odoo write.
CORRELATION_HEADER = "andon.correlation_id"


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts (UTC, ms), level, logger, msg, then the context fields present."""

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC)
        doc: dict[str, object] = {
            "ts": ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                doc[name] = value
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return _json.dumps(doc, separators=(",", ":"), default=str)


class TextFormatter(logging.Formatter):
    """`time level logger: message [event_id=… correlation_id=…]` for a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = " ".join(f"{name}={record.__dict__[name]}" for name in CONTEXT_FIELDS
                           if record.__dict__.get(name) is not None)
        return f"{line} [{context}]" if context else line


def setup_logging(json: bool = False, level: str | int = "WARNING", stream=None) -> logging.Handler:
    """Route the root logger to stderr (or `stream`) in the chosen format; replaces handlers set before."""
    if isinstance(level, str):
        name = level.upper()
        if name not in logging.getLevelNamesMapping():
            raise ValueError(f"unknown log level {level!r}: use DEBUG, INFO, WARNING or ERROR")
        level = logging.getLevelNamesMapping()[name]
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if json else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return handler


def setup_from_args(args) -> None:
    fmt = getattr(args, "log_format", "text")
    if fmt not in LOG_FORMATS:
        from andon.errors import AndonError

        raise AndonError(f"unknown log format {fmt!r}", hint="use --log-format json or text (ANDON_LOG_FORMAT)")
    try:
        level = getattr(args, "log_level", None) or ("INFO" if fmt == "json" else "WARNING")
        setup_logging(json=fmt == "json", level=level)
    except ValueError as exc:
        from andon.errors import AndonError

        raise AndonError(str(exc), hint="set --log-level or ANDON_LOG_LEVEL to DEBUG, INFO, WARNING or ERROR") from None
