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
    argv = [*command, "--help"]
    code = (f"import sys\nfrom andon.cli import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
            "heavy = sorted(m for m in ('numba', 'bytewax', 'pyarrow', 'polars', 'andon.pipelines.telemetry',"
            " 'andon.pipelines.odoo_sync') if m in sys.modules)\nprint('HEAVY', heavy)\n")
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


def test_every_run_option_reads_its_andon_variable(tmp_path):
    from andon.pipelines.runner import apply_env_defaults

    proc = run("run", "telemetry", "--config", str(example_site_path()), env={"ANDON_EOF_IDLE": "soon"})
    assert proc.returncode == 2 and "ANDON_EOF_IDLE='soon' is not a valid value for --eof-idle" in proc.stderr
    help_text = run("run", "telemetry", "--help").stdout
    for name in ("ANDON_EOF_IDLE", "ANDON_OUT", "ANDON_SHARDS", "ANDON_BATCH_SIZE", "ANDON_BROKER_WAIT",
                 "ANDON_METRICS_HOST", "ANDON_CONFIG"):
        assert name in help_text.replace("\n", " ").replace("                       ", ""), name
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--eof-idle", type=float)
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--log-format", choices=["json", "text"], default="text")
    os.environ.update(ANDON_EOF_IDLE="2.5", ANDON_DRY_RUN="true", ANDON_LOG_FORMAT="json")
    try:
        args = apply_env_defaults(parser).parse_args([])
        assert (args.eof_idle, args.dry_run, args.log_format) == (2.5, True, "json")
        assert apply_env_defaults(parser).parse_args(["--eof-idle", "1"]).eof_idle == 1.0  # the option wins
    finally:
        for name in ("ANDON_EOF_IDLE", "ANDON_DRY_RUN", "ANDON_LOG_FORMAT"):
            os.environ.pop(name)


def test_andon_config_stands_for_config(tmp_path):
    """Without --config, ANDON_CONFIG names the site: the run gets as far as the (absent) broker."""
    proc = run("run", "telemetry", "--out", str(tmp_path), "--broker-wait", "0",
               env={"ANDON_CONFIG": str(example_site_path()), "ANDON_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"})
    assert proc.returncode == 3 and "no Kafka broker answered at 127.0.0.1:1" in proc.stderr, proc.stderr
    missing = run("run", "telemetry", "--out", str(tmp_path), env={"ANDON_CONFIG": ""})
    assert missing.returncode == 2 and "--config" in missing.stderr


def test_every_command_reads_andon_variables_for_its_options(tmp_path):
    """`andon simulate` (its own parser) and `andon dlq list` (a subcommand) read ANDON_<OPTION> too."""
    out = tmp_path / "t.jsonl"
    proc = run("simulate", env={"ANDON_MACHINES": "2", "ANDON_HOURS": "0.01", "ANDON_OUT": str(out)})
    assert proc.returncode == 0, proc.stderr
    assert len({line.split(b'"machine":"')[1].split(b'"')[0] for line in out.read_bytes().splitlines()}) == 2
    assert "(env ANDON_MACHINES)" in run("simulate", "--help").stdout.replace("\n", " ").replace("  ", "")
    assert "env ANDON_" in run("dlq", "list", "--help").stdout
    from andon.cli_env import RESERVED

    assert "KAFKA_BOOTSTRAP_SERVERS" in RESERVED  # the site config's variables keep their meaning
