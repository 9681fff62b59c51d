"""Scenario registry: name -> function(quick: bool) -> result dict (without the "scenario" key).

Add a scenario by writing a module here and listing its function below.
"""

from __future__ import annotations

from collections.abc import Callable

from benchmarks.scenarios.kernels import kernels
from benchmarks.scenarios.odoo_sync import odoo_sync
from benchmarks.scenarios.pipeline import pipeline_arrow, pipeline_kafka, pipeline_memory

SCENARIOS: dict[str, Callable[..., dict]] = {
    "kernels": kernels,
    "pipeline-memory": pipeline_memory,
    "pipeline-arrow": pipeline_arrow,
    "pipeline-kafka": pipeline_kafka,
    "odoo-sync": odoo_sync,
}
