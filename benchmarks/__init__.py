"""andon benchmarks: `python -m benchmarks [SCENARIO ...] [--quick] [--json PATH]` (see ARCHITECTURE.md)."""
