"""Exit statuses of every `andon` command, and the one message an error that ends a run is reported as.

| status | meaning |
|---|---|
| 0 | done, or stopped cleanly by SIGTERM / SIGINT (outputs flushed, final snapshot taken) |
| 1 | a check found problems (reconcile: mismatches remain; audit verify: the chain is broken) |
| 2 | usage or configuration error: a bad option, site config or input file |
| 3 | a service is unreachable or refused andon: Kafka, Odoo (down, wrong URL, password, API key or rights) |
| 4 | a local resource failed: a port in use, a directory not writable, a full disk |
| 5 | internal error: a bug in andon (rerun with ANDON_DEBUG=1 and report the traceback) |
| 6 | did not stop within the stop timeout after SIGTERM/SIGINT; exited without a final snapshot |
| 130 | interrupted a second time: stopped at once |

Errors raised inside a bytewax dataflow reach the command wrapped in bytewax's runtime errors; `explain` finds
the error that caused them and reports that.
"""

from __future__ import annotations

import errno

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2
EXIT_SERVICE = 3
EXIT_RESOURCE = 4
EXIT_INTERNAL = 5
EXIT_STOP_TIMEOUT = 6
EXIT_INTERRUPTED = 130

#: status -> (meaning, what to do), for `andon --help` and the docs
EXIT_STATUSES: dict[int, tuple[str, str]] = {
    EXIT_OK: ("done, or stopped cleanly by SIGTERM/SIGINT", "nothing"),
    EXIT_CHECK_FAILED: ("a check found problems (reconcile mismatches, a broken audit chain)", "read the report"),
    EXIT_USAGE: ("usage or configuration error", "fix the option, config key or file named"),
    EXIT_SERVICE: ("Kafka or Odoo unreachable, or refused andon (credentials, rights, missing topic)",
                   "fix the service, address or credentials named, then start again: nothing was lost"),
    EXIT_RESOURCE: ("a local resource failed (port in use, directory not writable, disk full)",
                    "free the port or fix the directory named, then start again"),
    EXIT_INTERNAL: ("internal error (a bug in andon)", "rerun with ANDON_DEBUG=1 and report the traceback"),
    EXIT_STOP_TIMEOUT: ("did not stop within ANDON_STOP_TIMEOUT_S after SIGTERM/SIGINT",
                        "none needed: the restart resumes from the last periodic snapshot"),
    EXIT_INTERRUPTED: ("interrupted twice: stopped at once", "restart: recovery resumes from the last snapshot"),
}


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def _is_wrapper(exc: BaseException) -> bool:
    return type(exc).__module__.startswith("bytewax") or type(exc).__name__ == "PanicException"


def root_error(exc: BaseException) -> BaseException:
    """The error that caused `exc`: the outermost andon error of its chain, else the outermost that is not a
    bytewax wrapper (`error calling ... in step ...`): the one that says most about where it happened."""
    from andon.errors import AndonError

    chain = _chain(exc)
    for candidate in chain:
        if isinstance(candidate, AndonError):
            return candidate
    for candidate in chain:
        if not _is_wrapper(candidate):
            return candidate
    return exc


def status_of(exc: BaseException) -> int:
    from andon.errors import AndonError

    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(exc, ConnectionError) or type(exc).__name__ == "KafkaException":
        return EXIT_SERVICE
    if isinstance(exc, AndonError) and isinstance(exc, PermissionError):
        return EXIT_SERVICE  # Odoo refused the credentials or the rights
    if isinstance(exc, OSError):
        return EXIT_RESOURCE
    if isinstance(exc, AndonError):
        return getattr(exc, "exit_status", EXIT_USAGE)
    return EXIT_INTERNAL


def message_of(exc: BaseException) -> str:
    """One message: what is wrong and what to do."""
    from andon.errors import AndonError

    if isinstance(exc, AndonError):
        return str(exc)
    if type(exc).__name__ == "KafkaException":
        return (f"Kafka: {exc.args[0].str() if exc.args and hasattr(exc.args[0], 'str') else exc}\n  what to do: "
                "check kafka.bootstrap_servers (or ANDON_KAFKA_BOOTSTRAP_SERVERS, --bootstrap-servers), that the broker runs and the "
                "credentials, then start again")
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        return f"{exc}\n  what to do: stop what listens on that port, or choose another one"
    if isinstance(exc, OSError):
        return f"{exc}\n  what to do: {EXIT_STATUSES[EXIT_RESOURCE][1]}"
    return (f"internal error: {type(exc).__name__}: {exc}\n  what to do: "
            f"{EXIT_STATUSES[EXIT_INTERNAL][1]}")


def explain(exc: BaseException) -> tuple[int, str]:
    """(exit status, message) for an error that ended a command."""
    root = root_error(exc)
    return status_of(root), message_of(root)


def table_markdown() -> str:
    """The exit status table as Markdown (README and docs carry it; a test keeps them equal)."""
    rows = ["| status | meaning | what to do |", "|---:|---|---|"]
    rows += [f"| {code} | {meaning} | {todo} |" for code, (meaning, todo) in EXIT_STATUSES.items()]
    return "\n".join(rows)
