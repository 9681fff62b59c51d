"""`andon broker`: run the embedded Tansu broker in the foreground with the site's topics created."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from andon.config import example_site_path, load_site
from andon.connectors.broker import EmbeddedBroker, site_topics


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="andon broker", description="Start Tansu on loopback until interrupted.")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: a free one)")
    parser.add_argument("--config", help="site TOML whose topics to create (default: the example plant)")
    parser.add_argument("--partitions", type=int, default=None, help="partitions per topic (default: from config)")
    args = parser.parse_args(argv)
    site = load_site(args.config or example_site_path())
    partitions = args.partitions or site.topics.partitions
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with EmbeddedBroker(site_topics(site), partitions=partitions, port=args.port or None) as broker:
        print(f"broker ready: bootstrap {broker.bootstrap} (topics: {', '.join(site_topics(site))}; "
              f"{partitions} partitions); Ctrl-C to stop", flush=True)
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
    print("broker stopped", file=sys.stderr)
    return 0
