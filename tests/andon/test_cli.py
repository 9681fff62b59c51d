"""The `andon` command: group help, `andon version`, ANDON_CONFIG, and help that imports no dataflow."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from andon import __version__
from andon.config import example_site_path


def run(*args: str, env: dict | None = None, code: str | None = None) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-c", code] if code else [sys.executable, "-m", "andon.cli", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})})


@pytest.mark.parametrize("command", [["run", "telemetry"], ["run", "odoo-sync"], ["replay"]])
def test_help_imports_neither_the_dataflow_nor_numba_nor_bytewax(command):
    code = ("import sys\nfrom andon.cli import main\ntry:\n    main(%r)\nexcept SystemExit:\n    pass\n"  # noqa: UP031
            "heavy = sorted(m for m in ('numba', 'bytewax', 'pyarrow', 'polars', 'andon.pipelines.telemetry',"
            " 'andon.pipelines.odoo_sync') if m in sys.modules)\nprint('HEAVY', heavy)\n") % ([*command, "--help"],)
    proc = run(code=code)
    assert "--config" in proc.stdout and "HEAVY []" in proc.stdout, proc.stdout + proc.stderr


def test_run_help_lists_the_dataflows():
    proc = run("run", "--help")
    assert proc.returncode == 0
    for name in ("telemetry", "odoo-sync", "workorders"):
        assert f"  {name}" in proc.stdout


def test_version():
    proc = run("version")
    assert proc.returncode == 0 and proc.stdout.startswith(f"andon {__version__} (Python ")


def test_andon_config_stands_for_config(tmp_path):
    """Without --config, ANDON_CONFIG names the site: the run gets as far as the (absent) broker."""
    proc = run("run", "telemetry", "--out", str(tmp_path), "--broker-wait", "0",
               env={"ANDON_CONFIG": str(example_site_path()), "ANDON_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"})
    assert proc.returncode == 3 and "no Kafka broker answered at 127.0.0.1:1" in proc.stderr, proc.stderr
    missing = run("run", "telemetry", "--out", str(tmp_path), env={"ANDON_CONFIG": ""})
    assert missing.returncode == 2 and "--config" in missing.stderr
