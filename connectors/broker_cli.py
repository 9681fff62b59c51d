"""`andon broker`: run a local broker (Apache Kafka in KRaft mode, or Tansu) in the foreground with the site's
topics created."""

from __future__ import annotations

import signal
import socket
import sys
import threading
from typing import TYPE_CHECKING

import click

from andon.cli_env import Command, config_option, option
from andon.connectors.broker import ENGINES
from andon.errors import ConfigError, ResourceError

if TYPE_CHECKING:
    from andon.config import SiteConfig

_LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


def configured_port(site: SiteConfig) -> int:
    """The port of the site's first bootstrap server, which must be on this host (the broker listens on loopback)."""
    first = site.kafka.bootstrap_servers.split(",")[0].strip()
    host, _, port = first.rpartition(":")
    if host not in _LOOPBACK or not port.isdigit():
        raise ConfigError(f"kafka.bootstrap_servers is {site.kafka.bootstrap_servers!r}; the embedded broker "
                          "listens on loopback only",
                          hint="pass --port P (0 for a free one), or set kafka.bootstrap_servers (or "
                               "ANDON_KAFKA_BOOTSTRAP_SERVERS) to 127.0.0.1:PORT")
    return int(port)


def _check_free(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            raise ResourceError(f"port {port} on 127.0.0.1 is already in use (another broker?)",
                              hint="stop whatever listens there, or pass --port P (0 for a free one)") from None


@click.command(cls=Command, name="broker")
@option("--engine", type=click.Choice(ENGINES), default=None, envvar="ANDON_BROKER",
        help="kafka (Apache Kafka 4, KRaft; needs a JDK and `make kafka`), tansu (in memory, Python only) or "
             "auto: kafka where available (default auto)")
@option("--port", type=int, default=None, env_prefix="ANDON_BROKER_",
        help="port to listen on (default: the port of the site's kafka.bootstrap_servers; 0: a free one)")
@option("--data-dir", default=None, metavar="DIR", env_prefix="ANDON_BROKER_",
        help="kafka only: keep the log directory here across runs (default: a temporary one)")
@config_option("site TOML whose topics to create (default: the example plant)", required=False)
@option("--partitions", type=int, default=None, env_prefix="ANDON_BROKER_",
        help="partitions per topic (default: from config)")
def cli(engine: str | None, port: int | None, data_dir: str | None, config: str | None,
        partitions: int | None) -> int:
    """Start a local broker on loopback, with the site's topics, until interrupted."""
    from andon.config import example_site_path, load_site
    from andon.connectors.broker import EmbeddedBroker, site_topics

    site = load_site(config or example_site_path())
    partitions = partitions or site.topics.partitions
    port = configured_port(site) if port is None else port
    if port:
        _check_free(port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    options = {"data_dir": data_dir} if data_dir else {}
    broker = EmbeddedBroker(site_topics(site), engine=engine, partitions=partitions, port=port or None, **options)
    with broker:
        print(f"broker ready: {broker.label} on bootstrap {broker.bootstrap} (topics: "
              f"{', '.join(site_topics(site))}; {partitions} partitions); Ctrl-C to stop", flush=True)
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
    print("broker stopped", file=sys.stderr)
    return 0


def main(argv: list[str]) -> int:
    """`andon broker ARGS...` as a function: its exit status."""
    from andon.cli import invoke

    return invoke(cli, argv, "andon broker")
