"""Scenario registry: name -> function(quick: bool) -> result dict (without the "scenario" key).

Add a scenario by writing a module here and listing its function below.
"""

from __future__ import annotations

from collections.abc import Callable

from benchmarks.scenarios.kernels import kernels

SCENARIOS: dict[str, Callable[..., dict]] = {
    "kernels": kernels,
}
