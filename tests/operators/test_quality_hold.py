"""The reject-rate quality hold (Bernoulli CUSUM in the aggregate kernel) on simulated Bernoulli rejects: none for
a stationary process at its nominal rate over 8 h x 20 machines, one per episode after a step to 3x nominal,
within the number of parts docs/odoo-sync.md states, and a release once the rate is back."""

from __future__ import annotations

import tomllib

import numpy as np
import pytest

from andon.config import example_site_path, parse_site
from andon.events import parse_iso_ms
from andon.operators import ShardProcessor
from andon.readings import ReadingBatch, Registry

NOMINAL, LIMIT = 0.02, 0.06  # the step to catch is 3x nominal
#: docs/odoo-sync.md: about 480 parts on average at these rates (h = 12), 99 % within about 1,000
WITHIN_PARTS = 1500
T0 = 1_772_431_200_000  # 2026-03-02T06:00:00Z
PERIOD_MS = 5_000


def site_with_rates():
    raw = tomllib.loads(example_site_path().read_text())
    for cls in raw["machine_classes"].values():
        cls.setdefault("rules", {}).update(reject_rate_limit=LIMIT, reject_rate_nominal=NOMINAL)
    return parse_site(raw, "<quality hold test>")


def readings(site, rates, hours: float, seed: int) -> tuple[ReadingBatch, np.ndarray]:
    """Cumulative part and reject counters of each machine every 5 s (Poisson(3) parts per reading, each a reject
    with the machine's rate at that time, `rates(machine, k)`); returns the batch and the parts per reading."""
    registry = Registry([site])
    rng = np.random.default_rng(seed)
    n = int(hours * 3600_000 // PERIOD_MS)
    names = registry.signals
    rows_m, rows_ts, rows_v, made = [], [], [], []
    for m in range(len(site.machines)):
        parts = rng.poisson(3, n)
        rejects = rng.binomial(parts, rates(m, np.arange(n)))
        values = np.full((n, len(names)), np.nan)
        values[:, names.index("part_count")] = np.cumsum(parts)
        values[:, names.index("reject_count")] = np.cumsum(rejects)
        rows_m.append(np.full(n, registry.index[(site.site.id, site.machines[m].id)], np.int32))
        rows_ts.append(T0 + np.arange(n, dtype=np.int64) * PERIOD_MS)
        rows_v.append(values)
        made.append(parts)
    ts = np.concatenate(rows_ts)
    order = np.argsort(ts, kind="stable")
    batch = ReadingBatch(np.concatenate(rows_m)[order], ts[order], np.full(ts.shape[0], -1, np.int64),
                         np.concatenate(rows_v)[order], names)
    return batch, np.stack(made)


def holds(site, batch):
    proc = ShardProcessor([site], Registry([site]))
    events = proc.process(batch).events + proc.flush().events
    return [e for e in events if e.type in ("quality.hold_raised", "quality.hold_released")]


@pytest.fixture(scope="module")
def site():
    return site_with_rates()


def test_a_stationary_process_at_nominal_raises_no_hold_in_8_hours_on_20_machines(site):
    batch, made = readings(site, lambda m, k: np.full(k.shape, NOMINAL), 8, seed=3)
    assert made.sum() > 20 * 8 * 2000, "enough parts to mean something"
    assert holds(site, batch) == []


def test_a_step_to_3x_nominal_raises_one_hold_within_the_documented_parts_and_releases(site):
    step, back = 720, 2160  # readings: the rate triples after 1 h and is nominal again after 3 h
    batch, made = readings(site, lambda m, k: np.where((k >= step) & (k < back), 3 * NOMINAL, NOMINAL), 5, seed=4)
    events = holds(site, batch)
    step_ms, back_ms = T0 + step * PERIOD_MS, T0 + back * PERIOD_MS
    for m, machine in enumerate(site.machines):
        mine = [e for e in events if e.machine == machine.id]
        assert [e.type for e in mine] == ["quality.hold_raised", "quality.hold_released"], machine.id
        raised, released = (parse_iso_ms(e.occurred_at) for e in mine)
        assert raised > step_ms and released > back_ms
        parts_until = made[m, step:(raised - T0) // PERIOD_MS].sum()
        assert parts_until <= WITHIN_PARTS, (machine.id, parts_until)
        assert mine[1].data["raised_at"] == mine[0].occurred_at
