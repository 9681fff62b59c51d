"""Apache Kafka 4 in KRaft mode as a local broker: one combined broker/controller node on loopback.

The jars come from Maven Central through the small Maven project in `tools/kafka/` (`make kafka` copies Kafka, its
command-line tools and their dependencies into `tools/kafka/lib/`, ignored by git; `ANDON_KAFKA_LIB` names another
folder). A JDK 17+ runs them (`ANDON_JAVA`, else `$JAVA_HOME/bin/java`, else `java` on the PATH).

Example::

    with KafkaBroker(["andon.telemetry.v1"], data_dir="/tmp/k") as broker:
        ...                       # broker.bootstrap is "127.0.0.1:PORT"
        broker.restart()          # same port, same log directory: every topic and message is kept
        broker.restart(wipe=True) # back empty: the log directory is formatted anew

Start-up takes about 4 s on an idle machine (a JVM with a 512 MB heap and the serial collector, C1 only unless
`fast_start=False`); a fresh log directory is formatted first (`kafka-storage format --standalone`, about 3 s).
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import subprocess
import tempfile
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path

from andon.connectors.broker import BrokerProcess, _Closing, free_port
from andon.errors import BrokerError

_REPO_LIB = Path(__file__).resolve().parent.parent / "tools" / "kafka" / "lib"

#: the main classes behind Kafka's shell scripts (kafka-storage.sh, kafka-consumer-groups.sh, ...)
TOOLS = {
    "kafka-storage": "kafka.tools.StorageTool",
    "kafka-consumer-groups": "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
    "kafka-console-consumer": "org.apache.kafka.tools.consumer.ConsoleConsumer",
    "kafka-get-offsets": "org.apache.kafka.tools.GetOffsetShell",
    "kafka-topics": "org.apache.kafka.tools.TopicCommand",
}

_LOG4J2 = """\
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d{ISO8601}] %p %c{1}: %m%n
rootLogger.level = warn
rootLogger.appenderRef.out.ref = out
logger.raft.name = kafka.server.KafkaRaftServer
logger.raft.level = info
"""


def kafka_lib() -> Path:
    return Path(os.environ.get("ANDON_KAFKA_LIB") or _REPO_LIB)


def java_binary() -> str | None:
    explicit = os.environ.get("ANDON_JAVA")
    if explicit:
        return explicit
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


def kafka_available() -> bool:
    """True when a JVM and the Kafka jars are both there."""
    lib = kafka_lib()
    return java_binary() is not None and lib.is_dir() and any(lib.glob("kafka_2.13-*.jar"))


def kafka_version() -> str:
    jars = sorted(kafka_lib().glob("kafka_2.13-*.jar"))
    return jars[0].name.removeprefix("kafka_2.13-").removesuffix(".jar") if jars else "?"


def _require() -> tuple[str, str]:
    java = java_binary()
    if java is None:
        raise BrokerError("no Java runtime found for Apache Kafka",
                          hint="install a JDK 17+ (or set ANDON_JAVA / JAVA_HOME), or use --engine tansu")
    if not kafka_available():
        raise BrokerError(f"the Kafka jars are not in {kafka_lib()}",
                          hint="run `make kafka` (Maven fetches them once), or use --engine tansu")
    return java, f"{kafka_lib()}{os.sep}*"


def _jvm_options(heap: str, fast_start: bool) -> list[str]:
    opts = [f"-Xms{min(_mb(heap), 128)}m", f"-Xmx{heap}", "-XX:+UseSerialGC", "-XX:-UsePerfData",
            "-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true", "-Djava.net.preferIPv4Stack=true"]
    if fast_start:
        opts.append("-XX:TieredStopAtLevel=1")
    return opts


def _mb(heap: str) -> int:
    size = heap.strip().lower()
    factor = {"g": 1024, "m": 1, "k": 1 / 1024}.get(size[-1:], None)
    return int(float(size[:-1]) * factor) if factor else int(int(size) / 2**20)


def run_tool(tool: str, args: Sequence[str], *, timeout: float = 60.0) -> subprocess.CompletedProcess:
    """Run one of Kafka's command-line tools (a key of TOOLS) as its shell script would; output as text."""
    java, classpath = _require()
    cmd = [java, *_jvm_options("256m", True), "-cp", classpath, TOOLS[tool], *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def new_cluster_id() -> str:
    """A Kafka Uuid in its text form (URL-safe base64 of 16 bytes, without padding, never starting with '-')."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


class KafkaBroker(_Closing):
    """A single-node KRaft cluster on 127.0.0.1; keeps its log directory across `restart()`."""

    engine = "kafka"
    keeps_data = True

    def __init__(self, topics: Iterable[str] = (), *, partitions: int = 1, port: int | None = None,
                 data_dir: str | Path | None = None, startup_timeout: float = 90.0,
                 log_path: str | Path | None = None, heap: str = "512m", fast_start: bool = True) -> None:
        if partitions < 1:
            raise ValueError("partitions must be at least 1")
        self.topics = list(topics)
        self.partitions = partitions
        self.port = port or free_port()
        self.controller_port = free_port()
        self.startup_timeout = startup_timeout
        self.heap = heap
        self.fast_start = fast_start
        self._tmp = None if data_dir else tempfile.mkdtemp(prefix="andon-kafka-")
        self.home = Path(data_dir) if data_dir else Path(self._tmp)
        self.log_dir = self.home / "data"
        self.log_path = Path(log_path) if log_path else self.home / "broker.log"
        self._process = BrokerProcess()

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def label(self) -> str:
        return f"Apache Kafka {kafka_version()} (KRaft)"

    def _properties(self) -> Path:
        c = f"127.0.0.1:{self.controller_port}"
        lines = {
            "process.roles": "broker,controller", "node.id": "1", "controller.quorum.bootstrap.servers": c,
            "listeners": f"PLAINTEXT://{self.bootstrap},CONTROLLER://{c}",
            "advertised.listeners": f"PLAINTEXT://{self.bootstrap},CONTROLLER://{c}",
            "controller.listener.names": "CONTROLLER", "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.log_dir), "num.partitions": "1", "auto.create.topics.enable": "false",
            "offsets.topic.replication.factor": "1", "offsets.topic.num.partitions": "4",
            "transaction.state.log.replication.factor": "1", "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1", "share.coordinator.state.topic.num.partitions": "1",
            "group.initial.rebalance.delay.ms": "0", "num.network.threads": "2", "num.io.threads": "4",
            "num.recovery.threads.per.data.dir": "2",
            # 8 MiB messages (Kafka's default is 1 MiB): the tests send oversized hostile readings through it
            "message.max.bytes": str(8 * 2**20), "replica.fetch.max.bytes": str(8 * 2**20),
        }
        path = self.home / "server.properties"
        path.write_text("".join(f"{k}={v}\n" for k, v in lines.items()))
        (self.home / "log4j2.properties").write_text(_LOG4J2)
        return path

    def _format(self, java: str, classpath: str, props: Path) -> None:
        if (self.log_dir / "meta.properties").exists():
            return
        cmd = [java, *_jvm_options("256m", True), "-cp", classpath,
               f"-Dlog4j2.configurationFile={self.home / 'log4j2.properties'}", TOOLS["kafka-storage"],
               "format", "--standalone", "-t", new_cluster_id(), "-c", str(props)]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            raise BrokerError(f"formatting the KRaft log directory {self.log_dir} failed: "
                              f"{(done.stderr or done.stdout).strip()[-800:]}",
                              hint="remove the folder and start again")

    def start(self) -> KafkaBroker:
        java, classpath = _require()
        self.home.mkdir(parents=True, exist_ok=True)
        props = self._properties()
        self._format(java, classpath, props)
        cmd = [java, *_jvm_options(self.heap, self.fast_start), "-cp", classpath,
               f"-Dlog4j2.configurationFile={self.home / 'log4j2.properties'}", "kafka.Kafka", str(props)]
        self._process.launch(cmd, self.log_path, "Java", "check the JDK, or set ANDON_JAVA")
        self._process.ready(self, "Kafka")
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Controlled shutdown (SIGTERM: the broker flushes its logs and exits), SIGKILL after `timeout` s."""
        self._process.end(signal.SIGTERM, timeout)

    def kill(self) -> None:
        """The broker dies at once (SIGKILL), as in a power cut; its log directory is recovered on restart."""
        self._process.end(signal.SIGKILL, 10.0)

    def restart(self, *, wipe: bool = False) -> None:
        """Stop and start on the same ports; with `wipe` the log directory is emptied first (a broker back empty).
        The site's topics given at construction are created again when missing."""
        self.stop()
        if wipe:
            shutil.rmtree(self.log_dir, ignore_errors=True)
        self.start()

