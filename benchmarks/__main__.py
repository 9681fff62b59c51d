"""Benchmark harness: runs named scenarios, each in a fresh process, and writes one JSON document, a Markdown table
and PNG plots.

    python -m benchmarks                                   # every scenario, full size, JSON on stdout
    python -m benchmarks kernels scaling --json out/results.json   # + out/results.md, out/*.png
    python -m benchmarks --quick --json /tmp/bench.json

Progress goes to stderr. Each scenario runs in its own subprocess so `peak_rss_mb` is that scenario's own peak.
Every baseline's `ratio` is the scenario's rate divided by the baseline's, both measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.report import add_ratios, markdown, plots
from benchmarks.scenarios import SCENARIOS
from benchmarks.scenarios.common import SIZES, progress

ROOT = Path(__file__).resolve().parent.parent
#: A scenario still running after this long is stopped and reported as an error.
SCENARIO_TIMEOUT_S = 900
#: `ANDON_BENCH_SIZE=tiny` (or --tiny) shrinks every input to seconds, for the harness's own test.
SIZE_ENV = "ANDON_BENCH_SIZE"


def machine_info() -> dict:
    info = {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "python": platform.python_version()}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        info["memory_gb"] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    from importlib.metadata import PackageNotFoundError, version

    for package in ("numpy", "numba", "bytewax", "msgspec", "confluent-kafka", "quixstreams"):
        try:
            info[package.replace("-", "_")] = version(package)
        except PackageNotFoundError:  # a missing optional package is just not reported
            info[package.replace("-", "_")] = None
    return info


def run_child(name: str, size: str) -> dict:
    """One scenario in a fresh interpreter (its own peak RSS); a crash or timeout becomes an error result."""
    with tempfile.TemporaryDirectory(prefix="andon-bench-") as tmp:
        out = Path(tmp) / "result.json"
        cmd = [sys.executable, "-m", "benchmarks", "--child", name, "--size", size, "--json", str(out)]
        try:
            proc = subprocess.run(cmd, cwd=ROOT, timeout=SCENARIO_TIMEOUT_S, stdout=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return {"scenario": name, "error": f"did not finish within {SCENARIO_TIMEOUT_S} s", "baselines": {}}
        if proc.returncode != 0 or not out.exists():
            return {"scenario": name, "error": f"scenario process exited with {proc.returncode} (see stderr)",
                    "baselines": {}}
        return json.loads(out.read_text(encoding="utf-8"))


def run_here(name: str, size: str) -> dict:
    return add_ratios({"scenario": name, **SCENARIOS[name](size)})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", help=f"scenarios to run (default: all): {', '.join(SCENARIOS)}")
    parser.add_argument("--quick", action="store_true", help="smaller inputs (under 5 minutes for all scenarios)")
    parser.add_argument("--tiny", action="store_true", help=f"tiny inputs, seconds per scenario (also {SIZE_ENV}=tiny)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the results document here (else stdout)")
    parser.add_argument("--markdown", type=Path, metavar="PATH", help="write the table here (default: beside --json)")
    parser.add_argument("--plots", type=Path, metavar="DIR", help="write PNG plots here (default: beside --json)")
    parser.add_argument("--in-process", action="store_true",
                        help="run scenarios in this process (peak RSS is then cumulative; for debugging)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--size", choices=SIZES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:  # one scenario, in the fresh process run_child started
        result = run_here(args.child, args.size or "full")
        args.json.write_text(json.dumps(result) + "\n", encoding="utf-8")
        return 0

    size = "tiny" if args.tiny or os.environ.get(SIZE_ENV) == "tiny" else "quick" if args.quick else "full"
    names = args.scenarios or list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
    results = []
    started = time.perf_counter()
    for i, name in enumerate(names, 1):
        progress(f"== {name} ({i}/{len(names)}, {size})")
        begin = time.perf_counter()
        result = run_here(name, size) if args.in_process else run_child(name, size)
        result["wall_s"] = round(time.perf_counter() - begin, 1)
        results.append(result)
        progress(f"== {name} done in {result['wall_s']} s")
    doc = {"machine": {**machine_info(), "size": size, "total_wall_s": round(time.perf_counter() - started, 1)},
           "results": results}
    command = "python -m benchmarks " + shlex.join(argv if argv is not None else sys.argv[1:])
    table = markdown(doc, command.strip())
    text = json.dumps(doc, indent=2)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n", encoding="utf-8")
    else:
        print(text)
    md_path = args.markdown or (args.json.with_suffix(".md") if args.json else None)
    if md_path:
        md_path.write_text(table, encoding="utf-8")
    plot_dir = args.plots or (args.json.parent if args.json else None)
    written = plots(doc, plot_dir) if plot_dir else []
    print(table, file=sys.stderr)
    for path in [p for p in (args.json, md_path) if p] + written:
        progress(f"wrote {path}")
    return 0 if all("error" not in r for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
