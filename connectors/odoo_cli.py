"""`andon odoo check`: the command line of the Odoo-side tools (outside the odoo package, so that `--help`
imports neither the client nor odoorpc; the check itself is andon.connectors.odoo.check)."""

from __future__ import annotations

import click

from andon.cli_env import Group, config_option


@click.group(cls=Group)
def odoo() -> None:
    """Odoo-side tools."""


@odoo.command()
@config_option("site TOML (Odoo secrets from ANDON_ODOO_PASSWORD / ANDON_ODOO_API_KEY)", required=True)
def check(config: str) -> int:
    """report what the site needs from Odoo and does not find, with fixes; exit 1 while any is left"""
    from andon.connectors.odoo.check import run_check

    return run_check(config)
