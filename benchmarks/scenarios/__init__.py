"""Scenario registry: name -> function(size) -> result dict (without the "scenario" key); size is "tiny",
"quick" or "full" (see common.SIZES).

Add a scenario by writing a module here and listing its function below.
"""

from __future__ import annotations

from collections.abc import Callable

from benchmarks.scenarios.kernels import kernels
from benchmarks.scenarios.odoo_sync import odoo_sync
from benchmarks.scenarios.pipeline import (
    pipeline_arrow,
    pipeline_kafka,
    pipeline_kafka_tansu,
    pipeline_memory,
)
from benchmarks.scenarios.scaling import scaling

SCENARIOS: dict[str, Callable[..., dict]] = {
    "kernels": kernels,
    "pipeline-memory": pipeline_memory,
    "pipeline-arrow": pipeline_arrow,
    "pipeline-kafka": pipeline_kafka,
    "pipeline-kafka-tansu": pipeline_kafka_tansu,
    "odoo-sync": odoo_sync,
    "scaling": scaling,
}
