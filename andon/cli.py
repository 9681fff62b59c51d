"""The `andon` command. Each subcommand lives in its own module and is imported only when used.

Every error that ends a command, inside a dataflow or not, is printed as one message (what is wrong and what to
do) without a traceback, and the command exits with the status `andon.exits` documents (2 for usage and config
errors, 3 for an unreachable or refusing service, 4 for a local resource, 5 for a bug). Set ANDON_DEBUG=1 to see
tracebacks.
"""

from __future__ import annotations

import importlib
import os
import sys

from andon.errors import AndonError

#: subcommand -> (module:function taking argv and returning an exit status, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("andon.demo:main", "run the main job end to end on embedded defaults"),
    "simulate": ("andon.simulator.cli:main", "generate plant telemetry (JSONL or Kafka) with ground truth"),
    "replay": ("andon.pipelines.telemetry_cli:replay_main", "run the telemetry dataflow over JSONL files"),
    "run": ("andon.pipelines.cli:run_main", "production entry points: telemetry | odoo-sync | workorders"),
    "catalog": ("andon.catalog:main", "print the integration catalog (flows, events); --format json, --schemas DIR"),
    "broker": ("andon.connectors.broker_cli:main", "start a local broker: Apache Kafka (KRaft) or Tansu"),
    "odoo-standin": ("andon.connectors.standin.cli:main", "start the Odoo stand-in server"),
    "odoo": ("andon.connectors.odoo.check:main", "odoo check --config SITE.toml: what Odoo lacks for the site"),
    "dlq": ("andon.pipelines.dlq:main", "list, show and replay dead-lettered events"),
    "reconcile": ("andon.pipelines.reconcile:main", "compare shop floor against Odoo"),
    "sync-shifts": ("andon.pipelines.sync_shifts:main", "send shift summaries to Odoo"),
    "audit": ("andon.audit:main", "verify (hash chain), show and anchor odoo_sync's audit trail"),
    "version": ("andon.cli:version_main", "print andon's version (and Python's, bytewax's)"),
}


def _load(target: str):
    module_name, func_name = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise AndonError(f"this andon build has no {module_name} yet",
                             hint="the command is planned but not built; see the project's open issues") from None
        raise
    return getattr(module, func_name)


def version_main(argv: list[str]) -> int:
    import platform
    from importlib.metadata import PackageNotFoundError, version

    from andon import __version__

    try:
        bytewax = version("bytewax")
    except PackageNotFoundError:
        bytewax = "not installed"
    print(f"andon {__version__} (Python {platform.python_version()}, bytewax {bytewax})")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    width = max(len(name) for name in COMMANDS)
    usage = "andon COMMAND [options]\n\ncommands:\n" + "\n".join(
        f"  {name:<{width}}  {help_}" for name, (_, help_) in COMMANDS.items()
    )
    if not argv or argv[0] in {"-h", "--help", "help"}:
        print("usage: " + usage)
        return 0 if argv else 2
    if argv[0] in {"-V", "--version"}:
        from andon import __version__

        print(f"andon {__version__}")
        return 0
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"andon: unknown command {command!r}\nusage: {usage}", file=sys.stderr)
        return 2
    try:
        return int(_load(COMMANDS[command][0])(rest) or 0)
    except KeyboardInterrupt:
        print(f"andon {command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if os.environ.get("ANDON_DEBUG"):
            raise
        from andon.exits import explain

        status, message = explain(exc)
        label = f"{command} {rest[0]}" if command == "run" and rest and not rest[0].startswith("-") else command
        print(f"andon {label}: error: {message}", file=sys.stderr)
        return status


if __name__ == "__main__":
    sys.exit(main())
