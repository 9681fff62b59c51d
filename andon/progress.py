"""Is the dataflow making progress? One process-wide view fed by the sources and the steps, for the health probes.

- **Started** once a source has polled its input: bytewax has connected every process of the cluster and built
  the dataflow. Until then `/readyz` says not ready, and `/healthz` fails once `timeout_s` has passed (a process
  that waits for a peer that never comes is not alive).
- **Stuck** when input is waiting (a partition reported messages behind its high watermark) and no batch has
  gone through the dataflow for `timeout_s`, or when the sources have not been polled for `timeout_s` at all:
  `/healthz` fails and says why, so the orchestrator restarts the process (recovery resumes it).
- A deliberate wait is not a stall: while odoo-sync holds its writes for an unavailable Odoo, or the broker is
  down (the readiness check says so), liveness stays good; restarting would not help.

Example::

    PROGRESS.polled(); PROGRESS.behind("andon.telemetry.v1", 0, 120); PROGRESS.advanced()
    PROGRESS.liveness()      # (True, "") or (False, "120 messages waiting, no batch processed for 310 s")
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

#: Seconds without progress (while input waits) or without a start before liveness fails.
DEFAULT_TIMEOUT_S = 300.0


class Progress:
    def __init__(self, timeout_s: float = DEFAULT_TIMEOUT_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.timeout_s = timeout_s
        self.clock = clock
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            now = self.clock()
            self._born = now
            self._polled: float | None = None
            self._advanced = now
            self._holding: tuple[float, str] | None = None
            self._behind: dict[tuple[str, int], int] = {}

    # ---- fed by sources and steps ------------------------------------------------------------------------------
    def polled(self) -> None:
        """A source asked its input for a batch (whether or not one came)."""
        self._polled = self.clock()

    def behind(self, topic: str, partition: int, messages: int) -> None:
        """A partition is `messages` behind its high watermark."""
        with self._lock:
            self._behind[(topic, partition)] = messages

    def advanced(self) -> None:
        """A batch went through the dataflow."""
        self._advanced = self.clock()

    def holding(self, reason: str) -> None:
        """The dataflow waits on purpose (e.g. writes held while Odoo is unavailable)."""
        self._holding = (self.clock(), reason)

    # ---- read by the probes ------------------------------------------------------------------------------------
    @property
    def started(self) -> bool:
        return self._polled is not None

    def readiness(self) -> tuple[bool, str]:
        if self._polled is None:
            return False, "the dataflow has not started: waiting for the peers of the cluster and the broker"
        return True, ""

    def waiting(self) -> int:
        with self._lock:
            return sum(self._behind.values())

    def liveness(self, excuses: tuple[Callable[[], tuple[bool, str]], ...] = ()) -> tuple[bool, str]:
        """(alive, reason). `excuses` are checks that, when failing, explain a pause (e.g. broker down)."""
        now = self.clock()
        limit = self.timeout_s
        if self._polled is None:
            if now - self._born > limit:
                return False, (f"the dataflow has not started after {now - self._born:.0f} s: are all peers of the "
                               "cluster running (ANDON_ADDRESSES) and is the broker reachable?")
            return True, "starting"
        if self._holding is not None and now - self._holding[0] <= limit:
            return True, f"holding: {self._holding[1]}"
        for excuse in excuses:
            ok, reason = excuse()
            if not ok:
                return True, f"waiting: {reason}"
        if now - self._polled > limit:
            return False, f"the sources have not polled their input for {now - self._polled:.0f} s: the dataflow is stuck"
        waiting = self.waiting()
        if waiting and now - self._advanced > limit:
            return False, (f"{waiting} messages waiting and no batch processed for {now - self._advanced:.0f} s: "
                           "the dataflow is stuck")
        return True, ""


PROGRESS = Progress()
