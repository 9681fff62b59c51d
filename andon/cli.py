"""The `andon` command. Each subcommand lives in its own module and is imported only when used.

Every error that ends a command, inside a dataflow or not, is printed as one message (what is wrong and what to
do) without a traceback, and the command exits with the status `andon.exits` documents (2 for usage and config
errors, 3 for an unreachable or refusing service, 4 for a local resource, 5 for a bug). Set ANDON_DEBUG=1 to see
tracebacks. A bad option is one line (what is wrong, and the `--help` to read) and exit status 2.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence

import click
from click.core import ParameterSource

from andon.cli_env import RUNNING, Command, Lazy, LazyGroup

#: subcommand -> (module:click command, one-line help); a module is imported only when its command is used
COMMANDS: Lazy = {
    "demo": ("andon.demo:cli", "run the main job end to end on embedded defaults"),
    "simulate": ("andon.simulator.cli:cli", "generate plant telemetry (JSONL or Kafka) with ground truth"),
    "replay": ("andon.pipelines.telemetry_cli:replay", "run the telemetry dataflow over JSONL files"),
    "run": ("andon.pipelines.cli:run", "production entry points: telemetry | odoo-sync | workorders"),
    "catalog": ("andon.catalog:cli", "print the integration catalog (flows, events) or write JSON Schemas"),
    "broker": ("andon.connectors.broker_cli:cli", "start a local broker: Apache Kafka (KRaft) or Tansu"),
    "odoo-standin": ("andon.connectors.standin.cli:cli", "start the Odoo stand-in server"),
    "odoo": ("andon.connectors.odoo_cli:odoo", "Odoo-side tools: odoo check (what Odoo lacks for the site)"),
    "dlq": ("andon.pipelines.dlq:dlq", "list, show and replay dead-lettered events"),
    "reconcile": ("andon.pipelines.batch_cli:reconcile", "compare shop floor against Odoo"),
    "sync-shifts": ("andon.pipelines.batch_cli:sync_shifts", "send final shift summaries to Odoo"),
    "audit": ("andon.audit:audit", "verify (hash chain), show and anchor odoo_sync's audit trail"),
}


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        from andon import __version__

        click.echo(f"andon {__version__}")
        ctx.exit(0)


@click.group(cls=LazyGroup, lazy=COMMANDS, name="andon",
             epilog="Every option also reads an ANDON_<OPTION> environment variable (shown as [env var: ...]); "
                    "`andon COMMAND --help` lists a command's options. Exit status: 0 done, 1 a check found "
                    "problems, 2 usage or config error, 3 Kafka or Odoo unreachable or refusing, 4 a local "
                    "resource (port, directory), 5 a bug (rerun with ANDON_DEBUG=1), 6 stop timeout, 130 "
                    "interrupted.")
@click.option("-V", "--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
              help="print andon's version and exit")
def root() -> None:
    """andon: shop-floor telemetry to business events, Odoo and Parquet."""


@root.command(cls=Command)
def version() -> int:
    """print andon's version (and Python's, bytewax's)"""
    import platform
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    from andon import __version__

    try:
        bytewax = dist_version("bytewax")
    except PackageNotFoundError:
        bytewax = "not installed"
    click.echo(f"andon {__version__} (Python {platform.python_version()}, bytewax {bytewax})")
    return 0


def _usage_line(exc: click.UsageError, prog: str) -> str:
    ctx = exc.ctx
    path = ctx.command_path if ctx is not None else prog
    message = " ".join(exc.format_message().split()).rstrip(".")
    param = getattr(exc, "param", None)
    if ctx is not None and param is not None and param.name and getattr(param, "envvar", None):
        if ctx.get_parameter_source(param.name) == ParameterSource.ENVIRONMENT:
            names = [param.envvar] if isinstance(param.envvar, str) else list(param.envvar)
            given = next((n for n in names if os.environ.get(n)), names[0])
            message = re.sub(r" \(env var: '[^']*'\)", "", message)
            return f"{path}: error: {message} (from the environment: {given}={os.environ.get(given, '')!r}); " \
                   f"what to do: fix or unset {given}"
        if not isinstance(exc, click.MissingParameter):
            message = re.sub(r" \(env var: '[^']*'\)", "", message)  # it came from the command line
    return f"{path}: error: {message}; what to do: see `{path} --help`"


def invoke(command: click.Command, argv: Sequence[str] | None, prog: str) -> int:
    """Run a click command as `andon` runs every command: its exit status, errors as one message (see module)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    RUNNING[0] = prog
    try:
        return int(command.main(args=argv, prog_name=prog, standalone_mode=False) or 0)
    except click.UsageError as exc:
        print(_usage_line(exc, prog), file=sys.stderr)
        return exc.exit_code
    except click.ClickException as exc:
        print(f"{RUNNING[0]}: error: {exc.format_message()}", file=sys.stderr)
        return exc.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        print(f"{RUNNING[0]}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if os.environ.get("ANDON_DEBUG"):
            raise
        from andon.exits import explain

        status, message = explain(exc)
        print(f"{RUNNING[0]}: error: {message}", file=sys.stderr)
        return status


def main(argv: Sequence[str] | None = None) -> int:
    """`andon ARGS...`: the exit status of the command."""
    return invoke(root, argv, "andon")


if __name__ == "__main__":
    sys.exit(main())
