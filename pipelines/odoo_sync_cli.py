"""`andon run odoo-sync`: the production entry point of the odoo_sync dataflow (outside its package, so that
`--help` imports neither the dataflow nor bytewax)."""

from __future__ import annotations

import json
import logging
import sys
import time
from types import SimpleNamespace

import click

from andon.cli_env import Command, config_option, eof_idle_option, option
from andon.errors import AndonError
from andon.pipelines.runner import (
    broker_options,
    config_paths,
    observability_options,
    run_options,
    with_bootstrap,
)

log = logging.getLogger("andon.odoo_sync")


def check_credentials(site) -> None:
    """Log in once before the dataflow starts: wrong credentials or rights end the run with one clear message
    (they never fix themselves); an Odoo that is down only delays the writes, which the dataflow holds."""
    from andon.connectors.odoo import OdooClient
    from andon.connectors.odoo.errors import OdooAuthError, OdooTransientError

    try:
        with OdooClient(site.odoo, rate_limit=False) as client:
            client.authenticate()
    except OdooAuthError as exc:
        exc.hint = ("check ANDON_ODOO_USERNAME (odoo.username), ANDON_ODOO_PASSWORD or ANDON_ODOO_API_KEY and "
                    "odoo.database; then start again (nothing was read)")
        raise
    except OdooTransientError as exc:
        log.warning("Odoo is not reachable yet (%s); starting anyway: writes are held until it answers", exc)


def startup_check(site) -> None:
    """`andon odoo check` before the dataflow starts: refuse to start on an error (login, rights, locations), log
    the problems that will dead-letter some events; start anyway while Odoo is unreachable (the sync holds)."""
    from andon.connectors.odoo import OdooClient, RetryPolicy
    from andon.connectors.odoo.check import check_site
    from andon.connectors.odoo.errors import OdooCircuitOpenError, OdooTransientError
    from andon.pipelines.odoo_sync import _Shared

    client = OdooClient(site.odoo, retry=RetryPolicy(attempts=2))
    client.limiter = _Shared.limiter(site.odoo)  # the check's calls count against the sync's rate limit
    try:
        findings = check_site(client, site)
    except (OdooTransientError, OdooCircuitOpenError) as exc:
        log.warning("odoo start-up check skipped: Odoo unavailable (%s); the sync holds until it answers",
                    exc.odoo_message)
        return
    finally:
        client.close()
    errors = [f for f in findings if f.severity == "error"]
    for finding in findings:
        if finding.severity == "problem":
            log.warning("odoo check: %s: %s (fix: %s)", finding.subject, finding.problem, finding.fix)
    if errors:
        exc = AndonError(f"Odoo is not ready for site {site.site.id!r}:\n" + "\n".join(f.render() for f in errors),
                         hint="fix the above in Odoo (andon odoo check --config ... shows all), then start again")
        exc.exit_status = 3  # Odoo refused andon (rights, set-up): see andon.exits
        raise exc


@click.command(cls=Command, name="odoo-sync")
@config_option("site TOML, or a directory of them; repeat for several sites (each applied to its own [odoo]); "
               "Odoo secrets only from ANDON_ODOO_PASSWORD / ANDON_ODOO_API_KEY (or *_FILE)",
               required=True, multiple=True)
@eof_idle_option(None, "stop after this many seconds without input (default: run forever)")
@option("--audit", default="andon-data/odoo-audit.jsonl", show_default=True, metavar="FILE",
        help="append-only JSONL audit trail")
@option("--ledger", default=None, metavar="FILE",
        help="SQLite ledger of applied events: replays skip Odoo (optional; Odoo keys stay the truth)")
@option("--shards", type=int, default=1, show_default=True,
        help="machine shards, one Odoo client each (set to workers x processes to spread load)")
@option("--poll-size", type=int, default=2_000, show_default=True, help="Kafka messages per poll and partition")
@option("--refresh", type=float, default=300.0, show_default=True, metavar="SECONDS",
        help="master-data refresh period")
@option("--scrap-insufficient", type=click.Choice(["confirm", "refuse"]), default="confirm", show_default=True,
        help="when Odoo warns of insufficient stock for a scrap: confirm it or dead-letter it")
@option("--breaker-reset", type=float, default=30.0, show_default=True, metavar="SECONDS",
        help="seconds the circuit breaker stays open before a trial call")
@option("--hold-max", type=float, default=30.0, show_default=True, metavar="SECONDS",
        help="longest wait between retries of a held batch while Odoo is down")
@option("--rate-limit", type=float, default=None,
        help="Odoo calls per second at most (default: odoo.rate_limit_per_s of the site config)")
@option("--skip-odoo-check", is_flag=True, help="start without the start-up check of Odoo (andon odoo check); "
                                                "not recommended")
@run_options
@broker_options
@observability_options
def run_odoo_sync(**params) -> int:
    """Apply business events from Kafka to Odoo (idempotent, batched, retries, DLQ, audit)."""
    args = SimpleNamespace(**params)
    from andon.config import load_sites
    from andon.connectors.kafka_health import BROKER, wait_for_broker
    from andon.pipelines.odoo_sync import OdooSyncFlowConfig, _Shared, build_flow, counters
    from andon.pipelines.odoo_sync.observe import odoo_ready, watch_circuits
    from andon.pipelines.runner import execute, start_observability

    sites = [with_bootstrap(s, args.bootstrap_servers) for s in load_sites(config_paths(args))]
    if args.rate_limit is not None:
        if args.rate_limit <= 0:
            raise AndonError("--rate-limit must be positive")
        sites = [s.model_copy(update={"odoo": s.odoo.model_copy(update={"rate_limit_per_s": args.rate_limit})})
                 for s in sites]
    for s in sites:
        if not (s.odoo.password or s.odoo.api_key):
            raise AndonError(f"no Odoo credentials for site {s.site.id!r}",
                             hint="set ANDON_ODOO_PASSWORD or ANDON_ODOO_API_KEY "
                                  "(or ANDON_ODOO_PASSWORD_FILE / ANDON_ODOO_API_KEY_FILE)")
    site = sites[0]
    cfg = OdooSyncFlowConfig(site=site, sites=sites, audit_path=args.audit, ledger_path=args.ledger, shards=args.shards,
                             poll_size=args.poll_size, eof_idle_s=args.eof_idle, refresh_s=args.refresh,
                             scrap_insufficient=args.scrap_insufficient, breaker_reset_s=args.breaker_reset,
                             hold_max_s=args.hold_max)
    status = start_observability(args, f"andon odoo-sync · {', '.join(s.site.id for s in sites)}")
    watch_circuits(_Shared.syncs)
    if status is not None:
        status.add_check("odoo", lambda: odoo_ready(_Shared.syncs))
        status.add_check("kafka", BROKER.check)
    wait_for_broker({**site.kafka.client_config()}, args.broker_wait)
    started = time.monotonic()
    for s in sites:
        check_credentials(s)
        if not args.skip_odoo_check:
            startup_check(s)
    execute(build_flow(cfg), args)
    summary = {"seconds": round(time.monotonic() - started, 2), "outcomes": counters()}
    print(json.dumps(summary), file=sys.stderr)
    return 0
