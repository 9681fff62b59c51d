"""The `andon` command: group help, `andon version`, ANDON_<OPTION> variables, deprecated spellings, usage errors,
and help that imports no heavy module."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from andon import __version__
from andon.config import example_site_path

#: Modules that printing help or parsing arguments must not import (slow: numba, bytewax; or heavy).
HEAVY = ("numba", "bytewax", "polars", "pyarrow", "confluent_kafka", "odoorpc", "pydantic", "andon.config",
         "andon.pipelines.telemetry", "andon.pipelines.odoo_sync")

#: Every command and group, as `andon ... --help` takes it.
COMMANDS = [[], ["demo"], ["simulate"], ["replay"], ["run"], ["run", "telemetry"], ["run", "odoo-sync"],
            ["run", "workorders"], ["catalog"], ["broker"], ["odoo-standin"], ["odoo"], ["odoo", "check"],
            ["dlq"], ["dlq", "list"], ["dlq", "show"], ["dlq", "replay"], ["reconcile"], ["sync-shifts"],
            ["audit"], ["audit", "verify"], ["audit", "head"], ["audit", "show"], ["version"]]


def run(*args: str, env: dict | None = None, code: str | None = None, cwd=None) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-c", code] if code else [sys.executable, "-m", "andon.cli", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})},
                          cwd=cwd)


def test_help_of_every_command_imports_no_heavy_module():
    """One interpreter prints every command's help in turn; none of them imports a heavy module."""
    code = ("import sys\nfrom andon.cli import main\n"
            f"codes = [main([*c, '--help']) for c in {COMMANDS!r}]\n"
            f"heavy = sorted(m for m in sys.modules if any(m == h or m.startswith(h + '.') for h in {HEAVY!r}))\n"
            "print('CODES', codes)\nprint('HEAVY', heavy)\n")
    proc = run(code=code)
    assert f"CODES {[0] * len(COMMANDS)}" in proc.stdout, proc.stdout[-3000:] + proc.stderr
    assert "HEAVY []" in proc.stdout, proc.stdout[-2000:]


def test_parsing_a_run_command_imports_no_heavy_module_before_it_runs():
    """A usage error is found before anything heavy is imported."""
    code = ("import sys\nfrom andon.cli import main\n"
            "print('CODE', main(['run', 'telemetry', '--config', 'x.toml', '--shards', 'many']))\n"
            "print('HEAVY', sorted(m for m in sys.modules if m.split('.')[0] in "
            "{'numba', 'bytewax', 'polars', 'pyarrow', 'confluent_kafka'}))\n")
    proc = run(code=code)
    assert "CODE 2" in proc.stdout and "HEAVY []" in proc.stdout, proc.stdout + proc.stderr


@pytest.mark.parametrize(("group", "subcommands"), [
    (["run"], ["telemetry", "odoo-sync", "workorders"]),
    (["odoo"], ["check"]),
    (["dlq"], ["list", "show", "replay"]),
    (["audit"], ["verify", "head", "show"]),
    ([], ["demo", "simulate", "replay", "run", "catalog", "broker", "odoo-standin", "odoo", "dlq", "reconcile",
          "sync-shifts", "audit", "version"]),
])
def test_group_help_lists_its_subcommands(group, subcommands):
    proc = run(*group, "--help")
    assert proc.returncode == 0, proc.stderr
    section = proc.stdout.split("Commands:\n", 1)[1].split("\n\n", 1)[0]
    listed = [line.split()[0] for line in section.splitlines() if not line.startswith("   ")]
    assert sorted(listed) == sorted(subcommands)
    assert "..." not in section, "a description was cut off"


def test_a_group_without_its_subcommand_prints_its_help_and_exits_2():
    proc = run("run")
    assert proc.returncode == 2 and "telemetry" in proc.stderr and proc.stdout == ""


def test_version():
    proc = run("version")
    assert proc.returncode == 0 and proc.stdout.startswith(f"andon {__version__} (Python ")
    short = run("--version")
    assert short.returncode == 0 and short.stdout == f"andon {__version__}\n"


@pytest.mark.parametrize(("argv", "expected"), [
    (["run", "telemetry", "--config", "x.toml", "--no-such-option"], "No such option"),
    (["simulate", "--hours", "many"], "'many' is not a valid float"),
    (["no-such-command"], "No such command 'no-such-command'"),
    (["dlq", "list", "--config", "x.toml", "--format", "yaml"], "'yaml' is not one of 'text', 'json'"),
    (["reconcile", "--config", "x.toml", "--parquet", "p", "--from", "2026-03-02"], "Missing option '--to'"),
])
def test_a_usage_error_is_one_line_and_exit_2(argv, expected):
    proc = run(*argv)
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.splitlines()) == 1, proc.stderr
    line = proc.stderr.strip()
    assert expected in line and "--help`" in line and "Traceback" not in line
    assert line.startswith("andon"), line


def test_did_you_mean_names_no_hidden_option():
    proc = run("run", "telemetry", "--nox")
    assert proc.returncode == 2 and "--now" not in proc.stderr, proc.stderr


def test_an_option_reads_its_andon_variable():
    """ANDON_<OPTION> stands for the option (a bad value names the variable); the command line wins."""
    bad = run("run", "telemetry", "--config", str(example_site_path()), env={"ANDON_EOF_IDLE": "soon"})
    assert bad.returncode == 2 and "ANDON_EOF_IDLE" in bad.stderr and "'soon'" in bad.stderr, bad.stderr
    help_text = " ".join(run("run", "telemetry", "--help").stdout.split())
    for name in ("ANDON_CONFIG", "ANDON_EOF_IDLE", "ANDON_OUT", "ANDON_SHARDS", "ANDON_BATCH_SIZE", "ANDON_WORKERS",
                 "ANDON_BROKER_WAIT", "ANDON_METRICS_PORT", "ANDON_METRICS_HOST", "ANDON_LIVENESS_TIMEOUT_S",
                 "ANDON_LOG_FORMAT", "ANDON_LOG_LEVEL", "ANDON_RECOVERY_DIR"):
        assert f"env var: {name}" in help_text, name


@pytest.mark.parametrize("command", [c for c in COMMANDS if c and c[-1] not in ("run", "odoo", "dlq", "audit")])
def test_every_option_shows_its_variable(command):
    """`--help` of every command shows a variable for each option (only --help itself has none)."""
    import click

    from andon.cli import root

    ctx = click.Context(root)
    cmd = root
    for name in command:
        cmd = cmd.get_command(ctx, name)
    for param in cmd.params:
        if isinstance(param, click.Option) and not param.hidden and param.name != "help":
            if param.flag_value == "enterprise":  # odoo-standin --enterprise: a shorthand of --edition
                continue
            assert param.envvar and param.show_envvar, (command, param.opts)
            envvars = [param.envvar] if isinstance(param.envvar, str) else param.envvar
            assert all(v.startswith("ANDON_") for v in envvars), (command, param.opts)


def test_andon_config_stands_for_config(tmp_path):
    """Without --config, ANDON_CONFIG names the site: the run gets as far as the (absent) broker."""
    proc = run("run", "telemetry", "--out", str(tmp_path), "--broker-wait", "0",
               env={"ANDON_CONFIG": str(example_site_path()), "ANDON_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"})
    assert proc.returncode == 3 and "no Kafka broker answered at 127.0.0.1:1" in proc.stderr, proc.stderr
    missing = run("run", "telemetry", "--out", str(tmp_path), env={"ANDON_CONFIG": ""})
    assert missing.returncode == 2 and "--config" in missing.stderr
    several = run("sync-shifts", "--parquet", str(tmp_path), "--from", "2026-03-02", "--to", "2026-03-02",
                  env={"ANDON_CONFIG": os.pathsep.join([str(example_site_path())] * 2)})
    assert several.returncode == 2 and "takes one site config" in several.stderr, several.stderr


def test_simulate_and_dlq_read_andon_variables(tmp_path):
    """`andon simulate` and `andon dlq list` (a subcommand) read ANDON_<OPTION> too."""
    out = tmp_path / "t.jsonl"
    proc = run("simulate", env={"ANDON_MACHINES": "2", "ANDON_HOURS": "0.01", "ANDON_OUT": str(out)})
    assert proc.returncode == 0, proc.stderr
    assert len({line.split(b'"machine":"')[1].split(b'"')[0] for line in out.read_bytes().splitlines()}) == 2
    assert "env var: ANDON_MACHINES" in run("simulate", "--help").stdout
    assert "env var: ANDON_EOF_IDLE" in run("dlq", "list", "--help").stdout


def test_simulate_never_takes_kafka_from_the_deployment_environment(tmp_path):
    """ANDON_KAFKA_BOOTSTRAP_SERVERS (a deployment's Kafka) does not make the simulator produce to it."""
    out = tmp_path / "t.jsonl"
    proc = run("simulate", "--machines", "1", "--hours", "0.01", "--out", str(out),
               env={"ANDON_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"})
    assert proc.returncode == 0 and "kafka" not in proc.stderr.lower(), proc.stderr


@pytest.mark.parametrize(("argv", "old", "new"), [
    (["simulate", "--machines", "1", "--hours", "0.01", "--kafka", "127.0.0.1:1", "--topic", "t"], "--kafka",
     "--bootstrap-servers"),
    (["catalog", "--json"], "--json", "--format json"),
    (["reconcile", "--config", "missing.toml", "--parquet", ".", "--from", "2026-03-02", "--to", "2026-03-02",
      "--events-idle", "1"], "--events-idle", "--eof-idle"),
])
def test_a_deprecated_spelling_still_works_and_warns_once(argv, old, new):
    proc = run(*argv)
    warnings = [line for line in proc.stderr.splitlines() if "is deprecated" in line]
    assert warnings == [f"andon {argv[0]}: {old} is deprecated, use {new} (the old spelling will go)"], proc.stderr
    if argv[0] == "catalog":
        import json

        assert proc.returncode == 0 and "flows" in json.loads(proc.stdout)
    if argv[0] == "simulate":  # it reached the (absent) broker: the alias was taken as --bootstrap-servers
        assert "127.0.0.1:1" in proc.stderr and proc.returncode == 2, proc.stderr


def test_aliases_resolve_in_process():
    """--idle is --eof-idle, --json is --format json; the new spelling wins when both are given."""
    import click

    from andon.cli_env import Command, eof_idle_option, format_option

    @click.command(cls=Command)
    @eof_idle_option(2.0, "idle")
    @format_option(("text", "json"))
    def probe(eof_idle, format):
        return eof_idle, format

    assert probe.main(["--idle", "5", "--json"], standalone_mode=False) == (5.0, "json")
    assert probe.main(["--idle", "5", "--eof-idle", "7"], standalone_mode=False) == (7.0, "text")
    assert probe.main([], standalone_mode=False) == (2.0, "text")


def test_an_error_that_ends_a_run_is_one_message_without_traceback(tmp_path):
    proc = run("sync-shifts", "--config", str(tmp_path / "missing.toml"), "--parquet", str(tmp_path),
               "--from", "2026-03-02", "--to", "2026-03-02")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("andon sync-shifts: error: "), proc.stderr
    debug = run("sync-shifts", "--config", str(tmp_path / "missing.toml"), "--parquet", str(tmp_path),
                "--from", "2026-03-02", "--to", "2026-03-02", env={"ANDON_DEBUG": "1"})
    assert "Traceback" in debug.stderr


def test_simulator_help_mirrors_its_constants():
    from andon.simulator import cli
    from andon.simulator.faults import FAULT_KINDS
    from andon.simulator.simulation import DEFAULT_START

    assert (cli.FAULT_KINDS, cli.DEFAULT_START) == (FAULT_KINDS, DEFAULT_START)
    from andon.cli_env import RESERVED

    assert "KAFKA_BOOTSTRAP_SERVERS" in RESERVED  # the site config's variables keep their meaning


def test_ctrl_c_outside_a_dataflow_is_one_line_and_130(capsys):
    import click

    from andon.cli import invoke
    from andon.cli_env import Command

    @click.command(cls=Command)
    def waits():
        raise KeyboardInterrupt

    assert invoke(waits, [], "andon waits") == 130
    assert capsys.readouterr().err.strip() == "andon waits: interrupted"


@pytest.mark.parametrize("command", [["run", "telemetry"], ["run", "odoo-sync"]])
def test_bootstrap_servers_overrides_the_config(command, tmp_path):
    """--bootstrap-servers is where the dataflow looks for Kafka (here nobody answers: exit 3, naming it)."""
    proc = run(*command, "--config", str(example_site_path()), "--bootstrap-servers", "127.0.0.1:1",
               "--broker-wait", "0", env={"ANDON_ODOO_PASSWORD": "x"}, cwd=tmp_path)
    assert proc.returncode == 3 and "no Kafka broker answered at 127.0.0.1:1" in proc.stderr, proc.stderr
