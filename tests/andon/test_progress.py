"""Liveness and readiness from the dataflow's progress: what counts as stuck, and what is a deliberate wait."""

from __future__ import annotations

import pytest

from andon.progress import Progress


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def run(steps):
    """Apply (seconds later, action) steps to a Progress with a 60 s timeout; return its liveness."""
    clock = Clock()
    progress = Progress(timeout_s=60, clock=clock)
    for later, action in steps:
        clock.now += later
        action(progress)
    return progress


BROKER_DOWN = (lambda: (False, "broker unreachable for 90 s"),)


@pytest.mark.parametrize(
    ("steps", "excuses", "alive", "reason"),
    [
        ([(30, lambda p: None)], (), True, "starting"),
        ([(61, lambda p: None)], (), False, "has not started after 61 s: are all peers of the cluster running"),
        ([(1, Progress.polled), (1, lambda p: p.behind("t", 0, 500)), (61, Progress.polled)], (), False,
         "500 messages waiting and no batch processed for 63 s"),
        ([(1, Progress.polled), (1, lambda p: p.behind("t", 0, 0)), (120, Progress.polled)], (), True, ""),
        ([(1, Progress.polled), (1, lambda p: p.behind("t", 0, 9)), (50, Progress.advanced), (30, Progress.polled)],
         (), True, ""),
        ([(1, Progress.polled), (61, lambda p: None)], (), False, "have not polled their input for 61 s"),
        ([(1, Progress.polled), (1, lambda p: p.behind("t", 0, 9)), (100, lambda p: p.holding("Odoo down")),
          (1, Progress.polled)], (), True, "holding: Odoo down"),
        ([(1, Progress.polled), (1, lambda p: p.behind("t", 0, 9)), (100, Progress.polled)], BROKER_DOWN, True,
         "waiting: broker unreachable"),
    ],
    ids=["starting", "never-started", "stuck-with-input", "idle-topic", "slow-but-moving", "not-polling",
         "odoo-hold", "broker-down"],
)
def test_liveness(steps, excuses, alive, reason):
    got_alive, got_reason = run(steps).liveness(excuses)
    assert got_alive is alive and reason in got_reason


def test_ready_only_once_the_sources_poll():
    progress = run([(5, lambda p: None)])
    assert progress.readiness() == (False, "the dataflow has not started: waiting for the peers of the cluster "
                                           "and the broker")
    progress.polled()
    assert progress.readiness() == (True, "")
