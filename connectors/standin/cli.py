"""`andon odoo-standin`: run the Odoo stand-in server until interrupted.

    andon odoo-standin --port 8069 --data /tmp/odoo --odoo-version 19 --api-key secret-key
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING

import click

from andon.cli_env import Command, UsageError, config_option, option
from andon.connectors.standin.faults import FAULT_KINDS, FaultConfig, Faults
from andon.connectors.standin.schema import EDITIONS, VERSIONS
from andon.connectors.standin.security import INTEGRATION_GROUPS
from andon.errors import AndonError, ResourceError

if TYPE_CHECKING:
    from andon.connectors.standin.server import StandinServer

P = "ANDON_STANDIN_"  # its variables: it runs beside andon's commands, whose ANDON_PORT or ANDON_SEED are not its


def _options(f):
    for decorate in reversed([
        option("--host", default="127.0.0.1", show_default=True, env_prefix=P, help="address to listen on"),
        option("--port", type=int, default=8069, show_default=True, env_prefix=P,
               help="TCP port; 0 picks a free one and prints it"),
        option("--data", required=True, type=click.Path(file_okay=False, path_type=Path), env_prefix=P,
               metavar="DIR", help="directory for the SQLite database (kept)"),
        option("--odoo-version", type=click.Choice(VERSIONS), default="17", show_default=True, env_prefix=P,
               help="Odoo major version to imitate"),
        config_option("site TOML to seed from (default: the example plant)", required=False),
        option("--edition", type=click.Choice(EDITIONS), default="community", show_default=True, env_prefix=P,
               help="community: Odoo's open edition; enterprise adds mrp_maintenance's fields (equipment/request "
                    "links to work centers and orders) and quality.alert"),
        click.option("--enterprise", "edition", flag_value="enterprise", help="same as --edition enterprise"),
        option("--integration-groups", default=None, env_prefix=P,
               help="comma-separated group xml ids of andon-integration (default: " + ",".join(INTEGRATION_GROUPS)
                    + ", plus quality.group_quality_user on enterprise)"),
        option("--integration-lang", default="en_US", show_default=True, env_prefix=P,
               help="language of andon-integration (translatable fields are read in it)"),
        option("--admin-password", default="admin", env_prefix=P, help="password of admin"),
        option("--api-key", default=None, env_prefix=P, help="API key of admin (JSON-2)"),
        option("--integration-password", default="andon-integration-secret", env_prefix=P,
               help="password of the least-privilege user andon-integration"),
        option("--integration-api-key", default=None, env_prefix=P, help="API key of andon-integration (JSON-2)"),
        option("--latency-ms", type=float, default=0.0, env_prefix=P, help="fault injection: added to every call"),
        option("--error-rate", type=float, default=0.0, env_prefix=P,
               help="fault injection: share of calls that fail, 0..1"),
        option("--error-kind", type=click.Choice(FAULT_KINDS), default="503", show_default=True, env_prefix=P,
               help="fault injection: how a failing call fails"),
        option("--fail-next", type=int, default=0, env_prefix=P, help="fault injection: fail exactly the next N calls"),
        option("--outage", is_flag=True, env_prefix=P, help="fault injection: answer 503 to every call"),
        option("--retry-after-s", type=float, default=1.0, show_default=True, env_prefix=P,
               help="fault injection: Retry-After sent with 429"),
        option("--seed", type=int, default=None, env_prefix=P, help="random seed for --error-rate"),
        option("--log-level", default="WARNING", show_default=True, env_prefix=P, help="DEBUG, INFO, WARNING, ERROR"),
    ]):
        f = decorate(f)
    return f


def start(args: SimpleNamespace) -> StandinServer:
    """Open (and on first start seed) the database and bind the server; does not serve yet."""
    from andon.config import example_site_path, load_site
    from andon.connectors.standin.seed import seed
    from andon.connectors.standin.server import StandinServer
    from andon.connectors.standin.service import Registry

    registry = Registry(args.data, odoo_version=args.odoo_version, admin_password=args.admin_password,
                        api_key=args.api_key, integration_password=args.integration_password,
                        integration_api_key=args.integration_api_key, edition=args.edition,
                        integration_groups=_groups(args.integration_groups))
    seed(registry, load_site(args.config or example_site_path()), integration_lang=args.integration_lang)
    faults = Faults(FaultConfig(latency_ms=args.latency_ms, error_rate=args.error_rate, error_kind=args.error_kind,
                                fail_next=args.fail_next, outage=args.outage, retry_after_s=args.retry_after_s,
                                seed=args.seed))
    return StandinServer(registry, host=args.host, port=args.port, faults=faults)


def _groups(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    return tuple(g.strip() for g in text.split(",") if g.strip())


@click.command(cls=Command, name="odoo-standin")
@_options
def cli(**params) -> int:
    """Odoo-compatible stand-in server (XML-RPC, JSON-RPC, JSON-2) backed by SQLite, until interrupted.

    Faults can also be set at run time: POST /standin/faults.
    """
    args = SimpleNamespace(**params)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        server = start(args)
    except AndonError:
        raise
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise ResourceError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}",
                            hint="pick another --port, or 0 for a free one") from None
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    server.start_in_thread()
    print(f"andon odoo-standin listening on {server.url} (Odoo {args.odoo_version}.0 {args.edition}, "
          f"database andon, data {args.data})", flush=True)
    stop.wait()
    server.shutdown()
    return 0


def parse_args(argv: list[str]) -> SimpleNamespace:
    """The options of `andon odoo-standin ARGV...` (for starting it in a thread: `start(parse_args(argv))`)."""
    ctx = cli.make_context("andon odoo-standin", list(argv))
    return SimpleNamespace(**ctx.params)


def main(argv: list[str] | None = None) -> int:
    """`andon odoo-standin ARGS...` as a function: its exit status."""
    from andon.cli import invoke

    return invoke(cli, argv, "andon odoo-standin")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
