"""`andon odoo-standin`: run the Odoo stand-in server until interrupted.

    andon odoo-standin --port 8069 --data /tmp/odoo --odoo-version 19 --api-key secret-key
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from andon.config import example_site_path, load_site
from andon.connectors.standin.faults import FAULT_KINDS, FaultConfig, Faults
from andon.connectors.standin.schema import EDITIONS, VERSIONS
from andon.connectors.standin.security import INTEGRATION_GROUPS
from andon.connectors.standin.seed import seed
from andon.connectors.standin.server import StandinServer
from andon.connectors.standin.service import Registry
from andon.errors import AndonError


def build_parser() -> argparse.ArgumentParser:
    env = os.environ.get
    parser = argparse.ArgumentParser(
        prog="andon odoo-standin",
        description="Odoo-compatible stand-in server (XML-RPC, JSON-RPC, JSON-2) on loopback, backed by SQLite.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8069, help="TCP port; 0 picks a free one and prints it")
    parser.add_argument("--data", required=True, type=Path, help="directory for the SQLite database (kept)")
    parser.add_argument("--odoo-version", choices=VERSIONS, default="17", help="Odoo major version to imitate")
    parser.add_argument("--config", type=Path, default=None, help="site TOML to seed from (default: example)")
    parser.add_argument("--edition", choices=EDITIONS, default="community",
                        help="community (default): Odoo's open edition; enterprise adds mrp_maintenance's fields "
                             "(equipment/request links to work centers and orders) and quality.alert")
    parser.add_argument("--enterprise", dest="edition", action="store_const", const="enterprise",
                        help="alias of --edition enterprise")
    parser.add_argument("--integration-groups", default=None,
                        help="comma-separated group xml ids of andon-integration (default: "
                             + ",".join(INTEGRATION_GROUPS) + ", plus quality.group_quality_user on enterprise)")
    parser.add_argument("--integration-lang", default="en_US",
                        help="language of andon-integration (translatable fields are read in it)")
    parser.add_argument("--admin-password", default=env("ANDON_STANDIN_ADMIN_PASSWORD", "admin"))
    parser.add_argument("--api-key", default=env("ANDON_STANDIN_API_KEY"), help="API key of admin (JSON-2)")
    parser.add_argument("--integration-password",
                        default=env("ANDON_STANDIN_INTEGRATION_PASSWORD", "andon-integration-secret"),
                        help="password of the least-privilege user andon-integration")
    parser.add_argument("--integration-api-key", default=env("ANDON_STANDIN_INTEGRATION_API_KEY"),
                        help="API key of andon-integration (JSON-2)")
    faults = parser.add_argument_group("fault injection (also settable at run time: POST /standin/faults)")
    faults.add_argument("--latency-ms", type=float, default=0.0, help="added to every call")
    faults.add_argument("--error-rate", type=float, default=0.0, help="share of calls that fail, 0..1")
    faults.add_argument("--error-kind", choices=FAULT_KINDS, default="503")
    faults.add_argument("--fail-next", type=int, default=0, help="fail exactly the next N calls")
    faults.add_argument("--outage", action="store_true", help="answer 503 to every call")
    faults.add_argument("--retry-after-s", type=float, default=1.0, help="Retry-After sent with 429")
    faults.add_argument("--seed", type=int, default=None, help="random seed for error_rate")
    parser.add_argument("--log-level", default="WARNING")
    return parser


def start(args: argparse.Namespace) -> StandinServer:
    """Open (and on first start seed) the database and bind the server; does not serve yet."""
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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        server = start(args)
    except AndonError as exc:
        print(f"andon odoo-standin: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"andon odoo-standin: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"andon odoo-standin: cannot listen on {args.host}:{args.port}: {exc.strerror}\n"
              "  what to do: pick another --port, or 0 for a free one", file=sys.stderr)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    server.start_in_thread()
    print(f"andon odoo-standin listening on {server.url} (Odoo {args.odoo_version}.0 {args.edition}, "
          f"database andon, data {args.data})", flush=True)
    stop.wait()
    server.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
