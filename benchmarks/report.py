"""Results document helpers: ratios against same-run baselines, the Markdown table and the PNG plots."""

from __future__ import annotations

from pathlib import Path


def rate_key(entry: dict) -> str | None:
    """The throughput figure of a result or baseline: readings_per_s, else events_per_s."""
    for key in ("readings_per_s", "events_per_s"):
        if isinstance(entry.get(key), int | float):
            return key
    return None


def add_ratios(result: dict) -> dict:
    """Set each baseline's `ratio` = the scenario's rate / the baseline's rate (same key, same run), from the
    reported figures, so that the document checks itself."""
    key = rate_key(result)
    for base in result.get("baselines", {}).values():
        if key and isinstance(base.get(key), int | float) and base[key] > 0:
            base["ratio"] = result[key] / base[key]
    return result


def _fmt(x) -> str:
    if isinstance(x, float):
        return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"
    return f"{x:,}" if isinstance(x, int) else str(x)


def markdown(doc: dict, command: str = "") -> str:
    m = doc["machine"]
    lines = [f"Machine: {m.get('cpu', m.get('processor'))}, {m.get('cpu_count')} cores, Python {m.get('python')}, "
             f"bytewax {m.get('bytewax')}, numba {m.get('numba')}, quixstreams {m.get('quixstreams')}"]
    if command:
        lines.append(f"Command: `{command}`")
    lines += ["", "| scenario | andon rate | seconds | peak RSS MB | state B/machine | baselines (rate, andon ×) |",
              "|---|---:|---:|---:|---:|---|"]
    for r in doc["results"]:
        if "error" in r and rate_key(r) is None:
            lines.append(f"| {r['scenario']} | error: {r['error'][:80]} | | | | |")
            continue
        key = rate_key(r)
        unit = "events/s" if key == "events_per_s" else "readings/s"
        bases = []
        for name, b in r.get("baselines", {}).items():
            if "error" in b:
                bases.append(f"{name}: error ({b['error'][:60]})")
            else:
                bk = rate_key(b)
                bases.append(f"{name}: {_fmt(b[bk])} ({b['ratio']:.2f}×)" if bk else name)
        lines.append(f"| {r['scenario']} | {_fmt(r[key])} {unit} | {r.get('seconds', 0):.2f} | "
                     f"{_fmt(r.get('peak_rss_mb', ''))} | {_fmt(r.get('state_bytes_per_machine', ''))} | "
                     f"{'; '.join(bases) or '—'} |")
    arrow = next((r for r in doc["results"] if r["scenario"] == "pipeline-arrow" and "stages_ns_per_reading" in r),
                 None)
    if arrow:
        stages = arrow["stages_ns_per_reading"]
        lines += ["", "pipeline-arrow, ns per reading: each stage alone (no bytewax) and the whole dataflow "
                      "(Parquet runs on the writer thread there):", "",
                  "| " + " | ".join(stages) + " | sum | dataflow |", "|" + "---:|" * (len(stages) + 2),
                  "| " + " | ".join(f"{v:.0f}" for v in stages.values()) + f" | {sum(stages.values()):.0f} | "
                  f"{arrow['dataflow_ns_per_reading']:.0f} |"]
    scaling = next((r for r in doc["results"] if r["scenario"] == "scaling" and "points" in r), None)
    if scaling:
        lines += ["", "Scaling (`shard` = one ShardProcessor; `dataflow` = whole telemetry dataflow):", "",
                  "| sweep | machines | batch | window s | processes × workers | readings/s | state B/machine |",
                  "|---|---:|---:|---:|---|---:|---:|"]
        for p in scaling["points"]:
            lines.append(f"| {p['sweep']} | {p['machines']:,} | {p['batch']:,} | {p['window_s']} | "
                         f"{p['processes']} × {p['workers']} | {_fmt(p['readings_per_s'])} | "
                         f"{_fmt(p.get('state_bytes_per_machine', '—'))} |")
        big = scaling["largest"]
        lines += ["", f"{big['machines']:,} machines: {big['vs_1000_machines']:.2f}× the 1,000-machine throughput, "
                      f"{big['state_bytes_per_machine']:,.0f} state bytes per machine."]
    return "\n".join(lines) + "\n"


def plots(doc: dict, out_dir: Path) -> list[Path]:
    """throughput_vs_batch.png and throughput_vs_machines.png from the scaling points (none without them)."""
    scaling = next((r for r in doc["results"] if r["scenario"] == "scaling" and "points" in r), None)
    if not scaling:
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shard = [p for p in scaling["points"] if p["sweep"] == "shard"]
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for x, fixed, name, title in (
        ("batch", {"machines": 1_000, "window_s": 60}, "throughput_vs_batch.png",
         "ShardProcessor throughput vs batch size (1,000 machines, 60 s windows)"),
        ("machines", {"batch": 10_000, "window_s": 60}, "throughput_vs_machines.png",
         "ShardProcessor throughput vs machines (batch 10,000, 60 s windows)"),
    ):
        pts = sorted((p for p in shard if all(p[k] == v for k, v in fixed.items())), key=lambda p: p[x])
        if not pts:
            continue
        fig, ax = plt.subplots(figsize=(6.4, 4.0))
        ax.plot([p[x] for p in pts], [p["readings_per_s"] for p in pts], marker="o")
        ax.set_xscale("log")
        ax.set_ylim(bottom=0)
        ax.set_xlabel(x.replace("batch", "batch size (readings)"))
        ax.set_ylabel("readings / s")
        ax.set_title(title, fontsize=9)
        ax.grid(True, alpha=0.3)
        fig.tight_layout()
        path = out_dir / name
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    return written
