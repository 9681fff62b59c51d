"""andon.operators.kernels: numba kernels, numpy in and numpy out (aggregate, states, rules)."""

from __future__ import annotations


def kernel_dispatchers() -> dict:
    """Every numba dispatcher the operators call, by name (for warm-up checks and cache inspection)."""
    from andon.operators.kernels import aggregate, calendar, counters, rules, states

    out = {}
    for module in (aggregate, calendar, counters, rules, states):
        for name, obj in vars(module).items():
            if hasattr(obj, "signatures") and hasattr(obj, "py_func") and obj.__module__ == module.__name__:
                out[f"{module.__name__.rsplit('.', 1)[-1]}.{name}"] = obj
    return out


def warm_up() -> dict[str, int]:
    """Compile (or load from NUMBA_CACHE_DIR) every kernel on a tiny synthetic plant; returns signature counts.

    Call it at start-up so that nothing compiles while data flows.
    """
    from andon.operators.warm import run_warm_up

    run_warm_up()
    return {name: len(d.signatures) for name, d in kernel_dispatchers().items()}
