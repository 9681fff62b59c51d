"""The building blocks of every `andon` command (click): options that read `ANDON_<OPTION>` from the environment
(shown in `--help`), `--config` with ANDON_CONFIG, old option spellings kept as hidden aliases that warn, and a
group that imports a subcommand's module only when that subcommand is used.

Example::

    @click.command(cls=Command)
    @config_option("site TOML", required=True)             # --config PATH, or ANDON_CONFIG
    @option("--eof-idle", type=float, help="stop after this many seconds without input")   # ANDON_EOF_IDLE
    @alias("--idle", "eof_idle", type=float)               # the old spelling: works, warns once on stderr
    def run(config, eof_idle): ...

An option given on the command line wins over its variable. The site config's own variables
(ANDON_KAFKA_BOOTSTRAP_SERVERS, ANDON_ODOO_URL, ...) keep their meaning: `--bootstrap-servers` reads
ANDON_KAFKA_BOOTSTRAP_SERVERS on purpose (it overrides kafka.bootstrap_servers), no other option reads one;
`andon simulate --bootstrap-servers` reads ANDON_SIMULATE_BOOTSTRAP_SERVERS instead, so that simulated
telemetry never goes to a deployment's Kafka just because the environment names it.
"""

from __future__ import annotations

import importlib
import os
import shutil
from collections.abc import Callable

import click
from click.core import ParameterSource

from andon.errors import AndonError

PREFIX = "ANDON_"

#: Variables that already mean a site config key (andon.config.ENV_OVERRIDES), without the prefix.
RESERVED = frozenset({"KAFKA_BOOTSTRAP_SERVERS", "KAFKA_SECURITY_PROTOCOL", "KAFKA_SASL_MECHANISM",
                      "KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD", "KAFKA_SSL_CA_LOCATION", "KAFKA_GROUP_ID",
                      "ODOO_URL", "ODOO_DATABASE", "ODOO_TRANSPORT", "ODOO_USERNAME", "ODOO_PASSWORD",
                      "ODOO_API_KEY", "DEBUG"})

#: The one variable of `--config`, the one of `--bootstrap-servers`.
CONFIG_ENV = "ANDON_CONFIG"
BOOTSTRAP_ENV = "ANDON_KAFKA_BOOTSTRAP_SERVERS"

#: The command path of the command running now ("andon run telemetry"), for the one error message.
RUNNING: list[str] = ["andon"]

#: What a command is: (module:attribute of a click command, one-line help shown by the group without importing it)
Lazy = dict[str, tuple[str, str]]


class UsageError(AndonError, ValueError):
    """A command was given an option or variable value it does not take (exit status 2)."""


class Option(click.Option):
    """A click option that also reads `<prefix><NAME>` (`--eof-idle`: ANDON_EOF_IDLE) and says so in `--help`."""

    def __init__(self, *decls, env_prefix: str | None = PREFIX, **kwargs) -> None:
        kwargs.setdefault("show_envvar", True)
        super().__init__(*decls, **kwargs)
        if self.envvar is None and env_prefix and self.name and not self.hidden:
            name = self.name.upper()
            if env_prefix == PREFIX and name in RESERVED:
                raise TypeError(f"option {self.opts[0]} would read {PREFIX}{name}, a site config variable")
            self.envvar = env_prefix + name


class Alias(click.Option):
    """A hidden, deprecated spelling of another option (`alias_of`, its parameter name); a flag alias stands for
    `value` of it (`--json` for `--format json`)."""

    def __init__(self, param_decls: tuple[str, ...], alias_of: str, value: object = None, **kwargs) -> None:
        self.alias_of, self.alias_value = alias_of, value
        decl = param_decls[0]
        name = "alias_" + decl.lstrip("-").replace("-", "_")
        if value is not None:
            kwargs.update(is_flag=True, default=False)
        super().__init__([decl, name], hidden=True, **kwargs)


def option(*decls, env_prefix: str | None = PREFIX, **kwargs) -> Callable:
    """`click.option` of an `Option` (reads ANDON_<NAME>; pass `envvar=` for another name)."""
    return click.option(*decls, cls=Option, env_prefix=env_prefix, **kwargs)


def alias(decl: str, alias_of: str, value: object = None, **kwargs) -> Callable:
    """Keep `decl` working as a deprecated spelling of the option named `alias_of` (see `Alias`)."""
    return click.option(decl, alias_of=alias_of, value=value, cls=Alias, **kwargs)


def _one_config(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value and os.pathsep in value and ctx.get_parameter_source(param.name) == ParameterSource.ENVIRONMENT:
        raise click.BadParameter(f"{CONFIG_ENV} names several files ({value}); this command takes one site config",
                                 ctx=ctx, param=param)
    return value


def config_option(help_: str, *, required: bool, multiple: bool = False) -> Callable:
    """--config PATH, the same on every command: defaults to ANDON_CONFIG; `multiple` commands (one deployment of
    several sites) take it repeated, or ANDON_CONFIG with the paths separated by the OS path separator."""
    return option("--config", type=click.Path(dir_okay=multiple, path_type=str), multiple=multiple,
                  required=required, envvar=CONFIG_ENV, metavar="PATH", help=help_,
                  callback=None if multiple else _one_config)


def bootstrap_option(help_: str = "Kafka bootstrap servers, host:port[,host:port...] (overrides "
                                  "kafka.bootstrap_servers of the site config)",
                     envvar: str = BOOTSTRAP_ENV) -> Callable:
    """--bootstrap-servers, the one name of the Kafka brokers on every command (old spellings are aliases)."""
    return option("--bootstrap-servers", metavar="HOST:PORT", envvar=envvar, default=None, help=help_)


def eof_idle_option(default: float | None, help_: str) -> Callable:
    """--eof-idle SECONDS, the one name of "stop after this long without input" (`--idle` is its old spelling)."""
    def decorate(f):
        return alias("--idle", "eof_idle", type=float)(
            option("--eof-idle", type=float, default=default, show_default=default is not None, metavar="SECONDS",
                   help=help_)(f))
    return decorate


def format_option(choices: tuple[str, ...], help_: str = "output format") -> Callable:
    """--format CHOICE, the one name of the output format (`--json` is the old spelling of `--format json`)."""
    def decorate(f):
        return alias("--json", "format", value="json")(
            option("--format", type=click.Choice(choices), default=choices[0],
                   show_default=True, help=help_)(f))
    return decorate


def _resolve_aliases(ctx: click.Context, params: list[click.Parameter]) -> None:
    for param in params:
        if not isinstance(param, Alias):
            continue
        given = ctx.params.pop(param.name, None)
        if given is None or given is False:
            continue
        target = next(p for p in params if p.name == param.alias_of)
        new = target.opts[0] + (f" {param.alias_value}" if param.alias_value is not None else "")
        click.echo(f"{ctx.command_path}: {param.opts[0]} is deprecated, use {new} (the old spelling will go)",
                   err=True)
        if ctx.get_parameter_source(target.name) == ParameterSource.COMMANDLINE:
            continue  # the new spelling, given too, wins
        ctx.params[target.name] = param.alias_value if param.alias_value is not None else given


class Command(click.Command):
    """An andon command: resolves deprecated aliases after parsing; help wide enough not to cut descriptions."""

    context_settings_default = {"help_option_names": ["-h", "--help"], "max_content_width": 120,
                                "terminal_width": shutil.get_terminal_size((110, 24)).columns}

    def __init__(self, *args, **kwargs) -> None:
        kwargs["context_settings"] = {**self.context_settings_default, **(kwargs.get("context_settings") or {})}
        super().__init__(*args, **kwargs)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            rest = super().parse_args(ctx, args)
        except click.NoSuchOption as exc:
            _hide_hidden(exc, self.params)
            raise
        _resolve_aliases(ctx, self.params)
        return rest

    def invoke(self, ctx: click.Context):
        RUNNING[0] = ctx.command_path
        return super().invoke(ctx)


def _hide_hidden(exc: click.NoSuchOption, params: list[click.Parameter]) -> None:
    """"Did you mean ...?" names no hidden option (test hooks, deprecated spellings)."""
    hidden = {opt for p in params if getattr(p, "hidden", False) for opt in p.opts}
    exc.possibilities = [p for p in exc.possibilities or () if p not in hidden]


class Group(click.Group):
    """A group of andon commands (`andon dlq list|show|replay`); without a subcommand it prints its help on
    stderr and exits 2."""

    command_class = Command

    def __init__(self, *args, **kwargs) -> None:
        kwargs["context_settings"] = {**Command.context_settings_default, **(kwargs.get("context_settings") or {})}
        kwargs["no_args_is_help"] = False
        super().__init__(*args, **kwargs)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args and not ctx.resilient_parsing:
            click.echo(ctx.get_help(), err=True)
            ctx.exit(2)
        rest = super().parse_args(ctx, args)
        _resolve_aliases(ctx, self.params)
        return rest

    def invoke(self, ctx: click.Context):
        RUNNING[0] = ctx.command_path
        return super().invoke(ctx)

    def command_rows(self, ctx: click.Context) -> list[tuple[str, str]]:
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.commands.get(name)
            if cmd is not None and not cmd.hidden:
                rows.append((name, cmd.get_short_help_str(limit=200)))  # whole, never cut with "..."
        return rows

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = self.command_rows(ctx)
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


Group.group_class = Group


class LazyGroup(Group):
    """A group whose subcommands are imported only when used: its help lists them from `lazy` alone."""

    def __init__(self, *args, lazy: Lazy, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*self.lazy, *sorted(self.commands)]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.commands:
            return self.commands[name]
        if name not in self.lazy:
            return None
        module_name, attr = self.lazy[name][0].split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                raise AndonError(f"this andon build has no {module_name} yet",
                                 hint="the command is planned but not built; see the project's open issues") from None
            raise
        return getattr(module, attr)

    def command_rows(self, ctx: click.Context) -> list[tuple[str, str]]:
        return [(name, help_) for name, (_, help_) in self.lazy.items()] + super().command_rows(ctx)
