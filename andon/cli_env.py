"""`ANDON_<OPTION>` environment variables for the options of every `andon` command.

Example: `ANDON_EOF_IDLE=5 andon run telemetry ...` is `andon run telemetry --eof-idle 5 ...`; an option given on
the command line wins. The site config's own variables (ANDON_KAFKA_BOOTSTRAP_SERVERS, ANDON_ODOO_URL, ...) keep
their meaning: an option whose name would clash with one of them does not read the environment.
"""

from __future__ import annotations

import argparse
import os

from andon.errors import AndonError

#: Variables that already mean a site config key (andon.config.ENV_OVERRIDES), without the prefix.
RESERVED = frozenset({"KAFKA_BOOTSTRAP_SERVERS", "KAFKA_SECURITY_PROTOCOL", "KAFKA_SASL_MECHANISM",
                      "KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD", "KAFKA_SSL_CA_LOCATION", "KAFKA_GROUP_ID",
                      "ODOO_URL", "ODOO_DATABASE", "ODOO_TRANSPORT", "ODOO_USERNAME", "ODOO_PASSWORD",
                      "ODOO_API_KEY", "DEBUG"})


class UsageError(AndonError, ValueError):
    """An ANDON_<OPTION> variable holds a value its option does not take."""


def apply_env_defaults(parser: argparse.ArgumentParser, prefix: str = "ANDON_") -> argparse.ArgumentParser:
    """Every option of `parser` also reads ANDON_<OPTION> from the environment (--eof-idle: ANDON_EOF_IDLE), a
    given option winning; its help says so. A value that does not convert is a usage error naming the variable."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):  # `andon dlq list`, `andon audit verify`, ...
            for sub in action.choices.values():
                apply_env_defaults(sub, prefix)
            continue
        taken = action.dest == "config" and "_config_env" in parser._defaults  # add_config_option reads it
        if (not action.option_strings or action.dest == "help" or taken or action.help == argparse.SUPPRESS
                or action.dest.upper() in RESERVED):
            continue
        name = prefix + action.dest.upper()
        if not action.help:
            action.help = f"(env {name})"
        elif name not in action.help:
            action.help = f"{action.help} (env {name})"
        text = os.environ.get(name)
        if text is None:
            continue
        try:
            if action.nargs == 0:  # a flag
                value = text.strip().lower() in {"1", "true", "yes", "on"}
            elif isinstance(action, argparse._AppendAction):
                value = [action.type(t) if action.type else t for t in text.split(os.pathsep) if t]
            else:
                value = action.type(text) if action.type else text
        except (TypeError, ValueError) as exc:
            raise UsageError(f"{name}={text!r} is not a valid value for {action.option_strings[0]}: {exc}",
                           hint=f"fix or unset {name}") from None
        if action.choices is not None and value not in action.choices:
            raise UsageError(f"{name}={text!r}: choose one of {', '.join(map(str, action.choices))}",
                           hint=f"fix or unset {name}")
        action.default = value
        action.required = False
    return parser


