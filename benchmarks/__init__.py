"""andon benchmarks: `python -m benchmarks [SCENARIO ...] [--quick] [--json PATH]` (see benchmarks/README.md)."""
