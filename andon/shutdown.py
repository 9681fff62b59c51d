"""Clean stop on SIGTERM and SIGINT: the sources end their input, the dataflow finishes the batches in flight,
the sinks flush, bytewax takes its final snapshot, and the command exits 0.

The first signal only sets a flag that the sources read (`requested()`): nothing is interrupted mid-batch, and
stateful steps keep their open windows and shifts in the snapshot instead of flushing them (a restart goes on
where the run stopped). A second SIGINT stops at once (exit 130). If the run has not ended `stop_timeout_s`
after the first signal (a peer of a cluster that is still running keeps the dataflow alive), the process exits
with EXIT_STOP_TIMEOUT without a final snapshot: the restart resumes from the last periodic one.

Example::

    with shutdown.handling():
        cli_main(flow, ...)          # sources raise StopIteration once shutdown.requested()
    if shutdown.requested(): ...     # stopped by a signal
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading

from andon.exits import EXIT_INTERRUPTED, EXIT_STOP_TIMEOUT

log = logging.getLogger("andon.shutdown")

_stop = threading.Event()
_signal_name: list[str] = []
#: Seconds after the first signal before giving up on a clean stop (Kubernetes' grace period is 60 s by default).
DEFAULT_STOP_TIMEOUT_S = 45.0


def requested() -> bool:
    """True once a stop was asked for: sources end their input at their next poll."""
    return _stop.is_set()


def wait(timeout_s: float) -> bool:
    """Sleep up to `timeout_s` seconds, waking at once when a stop is requested; True if one was (pollers between
    polls)."""
    return _stop.wait(timeout_s)


def signal_name() -> str | None:
    return _signal_name[0] if _signal_name else None


def request(name: str = "request") -> None:
    if not _stop.is_set():
        _signal_name.append(name)
        _stop.set()


def reset() -> None:
    """Forget a stop request (tests and long-lived embedding only)."""
    _stop.clear()
    _signal_name.clear()


def _timeout_s() -> float:
    try:
        return float(os.environ.get("ANDON_STOP_TIMEOUT_S", DEFAULT_STOP_TIMEOUT_S))
    except ValueError:
        return DEFAULT_STOP_TIMEOUT_S


def _watchdog(done: threading.Event, timeout_s: float) -> None:
    if _stop.wait() and not done.wait(timeout_s):
        sys.stderr.write(f"andon: did not stop within {timeout_s:g} s of {signal_name()} (is a peer of the cluster "
                         "still running?); exiting without a final snapshot: a restart resumes from the last "
                         "periodic one\n")
        sys.stderr.flush()
        os._exit(EXIT_STOP_TIMEOUT)


def _handler(signum, _frame) -> None:
    name = signal.Signals(signum).name
    if _stop.is_set():
        if signum == signal.SIGINT:
            sys.stderr.write("andon: second interrupt: stopping at once\n")
            sys.stderr.flush()
            os._exit(EXIT_INTERRUPTED)
        return
    request(name)
    sys.stderr.write(f"andon: {name}: stopping cleanly (finishing the batches in flight, writing outputs and a "
                     "final snapshot); Ctrl-C again to stop at once\n")
    sys.stderr.flush()


@contextlib.contextmanager
def handling(stop_timeout_s: float | None = None):
    """Install the SIGTERM/SIGINT handlers (main thread only) for the duration of a run."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    done = threading.Event()
    watchdog = threading.Thread(target=_watchdog, args=(done, stop_timeout_s or _timeout_s()), daemon=True,
                                name="andon-stop-watchdog")
    previous = {sig: signal.signal(sig, _handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    watchdog.start()
    try:
        yield
    finally:
        done.set()
        for sig, old in previous.items():
            signal.signal(sig, old)
