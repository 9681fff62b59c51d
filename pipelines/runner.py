"""Run a bytewax dataflow: one worker in-process, several workers, or one process of a cluster, with recovery.

Recovery: `--recovery-dir DIR` keeps bytewax's snapshot database there (created on first use with as many
partitions as processes); `--snapshot-interval S` sets how often state and offsets are snapshotted.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

import click

from andon.cli_env import bootstrap_option, option
from andon.errors import AndonError


class RunError(AndonError, ValueError):
    """A run option is wrong."""


def config_paths(args) -> list[str] | None:
    """The --config paths (repeated, or ANDON_CONFIG split at the OS path separator); None when none given."""
    return list(args.config or ()) or None


def with_bootstrap(site, servers: str | None):
    """`site` with kafka.bootstrap_servers replaced by --bootstrap-servers, when given."""
    if not servers:
        return site
    return site.model_copy(update={"kafka": site.kafka.model_copy(update={"bootstrap_servers": servers})})


def run_options(f):
    """The bytewax execution options of a dataflow command (each also read from ANDON_<OPTION>)."""
    for decorate in reversed([
        option("--workers", type=int, default=1, show_default=True, help="worker threads per process"),
        option("--process-id", type=int, default=None,
               help="this process's index in --addresses (default: the ordinal of a StatefulSet pod name such "
                    "as andon-telemetry-1 in HOSTNAME)"),
        option("--addresses", default=None, help="host:port of every process, separated by ';'"),
        option("--recovery-dir", default=None, help="directory of the recovery database; off when not set"),
        option("--snapshot-interval", type=float, default=5.0, show_default=True,
               help="seconds between recovery snapshots"),
    ]):
        f = decorate(f)
    return f


def broker_options(f):
    """--bootstrap-servers and --broker-wait: where the Kafka brokers are, how long to wait for them at start."""
    f = bootstrap_option()(f)
    return option("--broker-wait", type=float, default=60.0, show_default=True, metavar="SECONDS",
                  help="seconds to wait for the Kafka broker at start before giving up with exit status 3")(f)


def observability_options(f):
    """--metrics-port, --metrics-host, --liveness-timeout and the logging options of a long-running command."""
    from andon.logs import LOG_FORMATS

    for decorate in reversed([
        option("--metrics-port", type=int, default=None,
               help="serve the status page /, /metrics, /healthz and /readyz on this port"),
        option("--metrics-host", default="0.0.0.0", show_default=True,
               help="address the status server listens on (127.0.0.1 keeps it local)"),
        option("--liveness-timeout", type=float, default=300.0, show_default=True, metavar="SECONDS",
               envvar="ANDON_LIVENESS_TIMEOUT_S",
               help="/healthz fails when the dataflow has not started, or has processed no batch while input "
                    "waits, for this many seconds"),
        option("--log-format", type=click.Choice(LOG_FORMATS), default="text", show_default=True,
               help="json: one JSON object per line with event_id and correlation_id"),
        option("--log-level", default=None,
               help="DEBUG, INFO, WARNING or ERROR (default INFO for json, where every Odoo write is logged for "
                    "the log shipper, WARNING for text)"),
    ]):
        f = decorate(f)
    return f


def statefulset_addresses(env: dict[str, str] | None = None) -> list[str] | None:
    """Every peer's host:port, derived from the StatefulSet the pod belongs to: ANDON_CLUSTER_SIZE processes
    (the StatefulSet's replicas), pods `<name>-<ordinal>` (HOSTNAME), reached through the headless Service
    ANDON_CLUSTER_SERVICE (default: the StatefulSet's name) in POD_NAMESPACE (downward API) on
    ANDON_CLUSTER_PORT (default 9999). None when ANDON_CLUSTER_SIZE is not set.

    Example: HOSTNAME=andon-telemetry-1, ANDON_CLUSTER_SIZE=2, POD_NAMESPACE=andon gives
    ["andon-telemetry-0.andon-telemetry.andon.svc:9999", "andon-telemetry-1.andon-telemetry.andon.svc:9999"].
    """
    env = dict(os.environ if env is None else env)
    size = env.get("ANDON_CLUSTER_SIZE")
    if not size:
        return None
    if not size.isdigit() or int(size) < 1:
        raise RunError(f"ANDON_CLUSTER_SIZE is {size!r}, not a positive whole number",
                       hint="set it to the StatefulSet's replicas (the manifests copy spec.replicas into it)")
    match = re.fullmatch(r"(.+)-(\d+)", env.get("HOSTNAME", ""))
    if match is None:
        raise RunError(f"ANDON_CLUSTER_SIZE is set but HOSTNAME {env.get('HOSTNAME', '')!r} is not a StatefulSet "
                       "pod name (<name>-<ordinal>)", hint="run in a StatefulSet pod, or pass --addresses")
    name = match.group(1)
    namespace = env.get("POD_NAMESPACE")
    if not namespace:
        raise RunError("ANDON_CLUSTER_SIZE is set but POD_NAMESPACE is not",
                       hint="give the pod POD_NAMESPACE from the downward API (fieldRef metadata.namespace)")
    service = env.get("ANDON_CLUSTER_SERVICE") or name
    port = env.get("ANDON_CLUSTER_PORT", "9999")
    return [f"{name}-{i}.{service}.{namespace}.svc:{port}" for i in range(int(size))]


def addresses_of(args) -> list[str] | None:
    """--addresses / ANDON_ADDRESSES when given, else the StatefulSet's peers (see statefulset_addresses)."""
    given = [a for a in (args.addresses or "").split(";") if a]
    return given or statefulset_addresses()


def process_id(args) -> int | None:
    if args.process_id is not None:
        return args.process_id
    if "ANDON_PROCESS_ID" in os.environ:
        return int(os.environ["ANDON_PROCESS_ID"])
    match = re.search(r"-(\d+)$", os.environ.get("HOSTNAME", ""))
    return int(match.group(1)) if match and addresses_of(args) else None


def init_recovery(db: Path, proc: int | None, processes: int) -> None:
    """Create this process's recovery partition on first use.

    In a cluster each process (pod) keeps its own volume and creates only its own partition file; bytewax then
    finds every partition across the processes, and refuses to resume (MissingPartitionsError) when one is
    missing instead of silently losing its state. ANDON_RECOVERY_PARTITIONS overrides the count (default: the
    number of processes).
    """
    from bytewax.recovery import init_db_dir

    db.mkdir(parents=True, exist_ok=True)
    if any(db.glob("part-*.sqlite3")):
        return
    count = int(os.environ.get("ANDON_RECOVERY_PARTITIONS", processes))
    if proc is None:
        init_db_dir(db, count)
        return
    # With more partitions than processes (a fixed ANDON_RECOVERY_PARTITIONS, so the cluster can be scaled),
    # process p creates the partitions p, p + processes, ...; k8s/scale-down.sh moves them when pods go away.
    mine = [i for i in range(count) if i % processes == proc]
    if mine:
        with tempfile.TemporaryDirectory(dir=db) as tmp:
            init_db_dir(Path(tmp), count)
            for i in mine:
                (Path(tmp) / f"part-{i}.sqlite3").rename(db / f"part-{i}.sqlite3")


def start_observability(args, title: str = "andon"):
    """Set up logging as the options say, then start the status server (when --metrics-port is given)."""
    from andon.logs import setup_from_args

    setup_from_args(args)
    return start_status(args, title)


def start_status(args, title: str = "andon"):
    """Serve the status page, /metrics, /healthz and /readyz on --metrics-port (env ANDON_METRICS_PORT), if given."""
    port = getattr(args, "metrics_port", None)
    if not port:
        return None
    from andon.connectors.kafka_health import BROKER
    from andon.connectors.status_server import StatusServer
    from andon.pipelines.status import BOARD, report_build
    from andon.progress import PROGRESS

    report_build(title.split(" · ")[0].removeprefix("andon ").strip() or "andon")
    PROGRESS.timeout_s = getattr(args, "liveness_timeout", PROGRESS.timeout_s)
    server = StatusServer(port, getattr(args, "metrics_host", "0.0.0.0"), snapshot=BOARD.snapshot, title=title)
    server.liveness = lambda: PROGRESS.liveness(excuses=(BROKER.check,))
    server.add_check("dataflow", PROGRESS.readiness)
    args.status_server = server.start()
    return args.status_server


def execute(flow, args) -> None:
    """Run `flow` as the options say; blocks until the input ends (or forever for live sources)."""
    from bytewax.run import cli_main

    addresses = addresses_of(args)
    proc = process_id(args)
    if addresses and proc is None:
        raise RunError("--addresses given without a process id",
                       hint="pass --process-id, set ANDON_PROCESS_ID, or run in a pod named <name>-<ordinal>")
    if addresses and not 0 <= proc < len(addresses):
        raise RunError(f"process id {proc} is outside the {len(addresses)} addresses given")
    if args.workers < 1:
        raise RunError("--workers must be at least 1")
    recovery = None
    if args.recovery_dir:
        db = Path(args.recovery_dir)
        init_recovery(db, proc, len(addresses) if addresses else 1)
        from bytewax.recovery import RecoveryConfig

        recovery = RecoveryConfig(db)
    status = getattr(args, "status_server", None)
    if status is not None:
        status.ready.set()
    from andon import shutdown
    from andon.pipelines.panics import rust_panics_hidden

    with shutdown.handling(), rust_panics_hidden():
        cli_main(flow, workers_per_process=args.workers, process_id=proc, addresses=addresses,
                 epoch_interval=timedelta(seconds=args.snapshot_interval), recovery_config=recovery)
    if shutdown.requested():
        print(f"andon: stopped cleanly on {shutdown.signal_name()}: outputs written"
              + (", final snapshot taken: a restart resumes here" if recovery else
                 " (no --recovery-dir: a restart reads the input again from its start)"), file=sys.stderr)


class Progress:
    """Progress of a run on the shared display (a bar on a terminal, a plain line every 5 s on a log), fed by a
    callable that returns (count, label) and polled every `interval_s`."""

    def __init__(self, read, interval_s: float = 0.5, enabled: bool = True) -> None:
        from andon.progressbar import ProgressLine

        self.read = read
        self.interval_s = interval_s
        self.enabled = enabled
        self._bar = ProgressLine("replay")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._start = time.monotonic()

    def _update(self) -> None:
        count, label = self.read()
        elapsed = max(time.monotonic() - self._start, 1e-9)
        self._bar.update(count, text=f"{count:,.0f} {label} ({count / elapsed:,.0f}/s, {elapsed:,.1f} s)")

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._update()

    def __enter__(self) -> Progress:
        if self.enabled:
            self._bar.__enter__()
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self.enabled:
            self._thread.join()
            self._update()
            self._bar.close()
