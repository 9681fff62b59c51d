"""`andon broker`: run a local broker (Apache Kafka in KRaft mode, or Tansu) in the foreground with the site's
topics created."""

from __future__ import annotations

import argparse
import signal
import socket
import sys
import threading

from andon.cli_env import apply_env_defaults
from andon.config import SiteConfig, example_site_path, load_site
from andon.connectors.broker import ENGINES, EmbeddedBroker, site_topics
from andon.errors import ConfigError, ResourceError

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


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="andon broker",
                                     description="Start a local broker on loopback until interrupted.")
    parser.add_argument("--engine", choices=ENGINES, default=None,
                        help="kafka (Apache Kafka 4, KRaft; needs a JDK and `make kafka`), tansu (in memory, "
                             "Python only) or auto: kafka where available (default: $ANDON_BROKER, else auto)")
    parser.add_argument("--port", type=int, default=None,
                        help="port to listen on (default: the port of the site's kafka.bootstrap_servers; 0: a free one)")
    parser.add_argument("--data-dir", default=None,
                        help="kafka only: keep the log directory here across runs (default: a temporary one)")
    parser.add_argument("--config", help="site TOML whose topics to create (default: the example plant)")
    parser.add_argument("--partitions", type=int, default=None, help="partitions per topic (default: from config)")
    args = apply_env_defaults(parser).parse_args(argv)
    site = load_site(args.config or example_site_path())
    partitions = args.partitions or site.topics.partitions
    port = configured_port(site) if args.port is None else args.port
    if port:
        _check_free(port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    options = {"data_dir": args.data_dir} if args.data_dir else {}
    broker = EmbeddedBroker(site_topics(site), engine=args.engine, partitions=partitions, port=port or None,
                            **options)
    with broker:
        print(f"broker ready: {broker.label} on bootstrap {broker.bootstrap} (topics: "
              f"{', '.join(site_topics(site))}; {partitions} partitions); Ctrl-C to stop", flush=True)
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
    print("broker stopped", file=sys.stderr)
    return 0
