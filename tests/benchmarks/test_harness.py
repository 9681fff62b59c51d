"""The benchmark harness on tiny inputs: the results document's format and its ratios (no speed is asserted)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

CASES = [
    pytest.param(["kernels", "pipeline-memory", "pipeline-arrow", "scaling"],
                 {"kernels": {"numpy_sort_reduce"}, "pipeline-memory": {"decode_only", "bytewax_fold_window"},
                  "pipeline-arrow": set(), "scaling": set()}, id="in-memory"),
    pytest.param(["pipeline-kafka", "odoo-sync"],
                 {"pipeline-kafka": {"bare_consumer", "quixstreams", "bytewax_kafka_source"},
                  "odoo-sync": {"one_event_per_batch"}},
                 id="broker-and-odoo", marks=[pytest.mark.broker, pytest.mark.odoo]),
]


def rate_key(entry: dict) -> str:
    return "readings_per_s" if "readings_per_s" in entry else "events_per_s"


@pytest.mark.parametrize(("scenarios", "baselines"), CASES)
def test_tiny_run_writes_the_results_format(tmp_path, scenarios, baselines):
    out = tmp_path / "results.json"
    env = {**os.environ, "ANDON_BENCH_SIZE": "tiny"}
    proc = subprocess.run([sys.executable, "-m", "benchmarks", *scenarios, "--json", str(out)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "[bench" in proc.stderr  # progress on stderr

    doc = json.loads(out.read_text())
    assert {"cpu_count", "python", "bytewax", "numba"} <= set(doc["machine"])
    assert [r["scenario"] for r in doc["results"]] == scenarios
    for result in doc["results"]:
        key = rate_key(result)
        assert result[key] > 0 and result["seconds"] > 0 and result["peak_rss_mb"] > 0
        assert set(result["baselines"]) == baselines[result["scenario"]]
        for name, base in result["baselines"].items():
            if "error" in base:  # a peer that cannot run says why instead
                assert name == "quixstreams" and base["error"]
                continue
            assert math.isclose(base["ratio"], result[key] / base[key], rel_tol=1e-9), name

    for result in doc["results"]:
        if result["scenario"] == "pipeline-kafka":  # the batch source and bytewax's KafkaSource drained the topic
            assert result["source_only_readings_per_s"] > 0
            assert result["baselines"]["bytewax_kafka_source"]["readings"] == result["readings"]

    for result in doc["results"]:
        if result["scenario"] == "pipeline-arrow":  # each stage timed alone, beside the whole dataflow
            stages = result["stages_ns_per_reading"]
            assert list(stages) == ["decode", "shard", "kernels", "events", "outputs", "parquet"]
            assert all(v > 0 for v in stages.values()), stages
            assert math.isclose(result["dataflow_ns_per_reading"], 1e9 / result["readings_per_s"], rel_tol=1e-9)

    table = (tmp_path / "results.md").read_text()
    assert all(f"| {name} |" in table for name in scenarios)
    if "pipeline-arrow" in scenarios:
        assert "| decode | shard | kernels | events | outputs | parquet | sum | dataflow |" in table
    if "scaling" in scenarios:
        scaling = doc["results"][-1]
        assert scaling["state_bytes_per_machine"] > 0
        assert {p["sweep"] for p in scaling["points"]} == {"shard", "dataflow"}
        assert {p.name for p in tmp_path.glob("*.png")} == {"throughput_vs_batch.png", "throughput_vs_machines.png"}
