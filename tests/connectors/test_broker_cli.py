"""`andon broker` listens where the site config's bootstrap servers say, and refuses what it cannot do clearly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import pytest

from andon.config import example_site_path, load_site
from andon.connectors.broker import free_port
from andon.connectors.broker_cli import configured_port
from andon.errors import ConfigError


@pytest.mark.parametrize(
    ("servers", "port"),
    [("127.0.0.1:9092", 9092), ("localhost:19092,127.0.0.1:19093", 19092), ("[::1]:9094", 9094)],
)
def test_port_comes_from_the_first_bootstrap_server(servers, port):
    site = load_site(example_site_path(), env={"ANDON_KAFKA_BOOTSTRAP_SERVERS": servers})
    assert configured_port(site) == port


@pytest.mark.parametrize("servers", ["kafka.andon.svc:9092", "127.0.0.1"])
def test_a_remote_or_portless_bootstrap_is_a_config_error(servers):
    site = load_site(example_site_path(), env={"ANDON_KAFKA_BOOTSTRAP_SERVERS": servers})
    with pytest.raises(ConfigError, match="listens on loopback only"):
        configured_port(site)


def test_busy_port_is_one_message_and_exit_4(capsys, monkeypatch):
    from andon.cli import main

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        monkeypatch.setenv("ANDON_KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{port}")
        assert main(["broker"]) == 4
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and f"port {port} on 127.0.0.1 is already in use" in err
    assert "Traceback" not in err


@pytest.mark.broker
def test_broker_listens_on_the_configured_bootstrap_and_stops_on_sigterm():
    port = free_port()
    env = dict(os.environ, ANDON_KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{port}")
    proc = subprocess.Popen([sys.executable, "-m", "andon.cli", "broker"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert f"bootstrap 127.0.0.1:{port}" in line
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0 and "broker stopped" in err
