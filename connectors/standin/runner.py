"""Start the stand-in from Python (tests, demo, benchmarks) in a subprocess or a background thread.

    with run_standin(tmp_path) as odoo:                      # subprocess on a free port
        odoo.url, odoo.port
        odoo.set_faults(error_kind="503", fail_next=2)
        odoo.stats()["by_method"]["mrp.workorder.button_start"]
        odoo.restart()                                        # same port, same data
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from andon.errors import AndonError


class StandinError(AndonError, RuntimeError):
    """The stand-in did not start or did not answer its control API."""


class StandinHandle:
    """A running stand-in: where it listens and its control API (faults, stats, health)."""

    def __init__(self, data_dir: Path, argv: list[str], *, mode: str, startup_timeout_s: float) -> None:
        self.data_dir, self._argv, self.mode = Path(data_dir), argv, mode
        self._timeout = startup_timeout_s
        self._proc: subprocess.Popen | None = None
        self._server: Any = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, port: int) -> StandinHandle:
        argv = [*self._argv, "--port", str(port)]
        if self.mode == "thread":
            from andon.connectors.standin.cli import parse_args, start

            self._server = start(parse_args(argv)).start_in_thread()
            self.port = self._server.port
            return self
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.data_dir / "standin.log", "ab")
        self._proc = subprocess.Popen([sys.executable, "-m", "andon.connectors.standin", *argv],
                                      stdout=subprocess.PIPE, stderr=log, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        log.close()
        deadline = time.monotonic() + self._timeout
        line = b""
        while time.monotonic() < deadline and self._proc.poll() is None:
            ready, _, _ = select.select([self._proc.stdout], [], [], 0.05)
            if ready:
                line = self._proc.stdout.readline()
                break
        if b"listening on http://" not in line:
            self.stop()
            tail = (self.data_dir / "standin.log").read_text(errors="replace")[-2000:]
            raise StandinError(f"the Odoo stand-in did not start: {line.decode(errors='replace')}{tail}",
                               hint=f"see {self.data_dir / 'standin.log'}")
        self.port = int(line.split(b"http://", 1)[1].split(b" ", 1)[0].rsplit(b":", 1)[1])
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server = None
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.terminate()
                try:
                    self._proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()
            if self._proc.stdout is not None:
                self._proc.stdout.close()
            self._proc = None

    def restart(self) -> StandinHandle:
        """Stop and start again on the same port with the same data directory."""
        port = self.port
        self.stop()
        return self.start(port)

    # -- control API -----------------------------------------------------------------------------------------
    def _call(self, path: str, payload: dict | None = None) -> dict:
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(self.url + path, data=data, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            raise StandinError(f"stand-in control call {path} refused ({exc.code}): {detail}") from None
        except OSError as exc:
            raise StandinError(f"stand-in control call {path} failed: {exc}") from None

    def set_faults(self, **settings: Any) -> dict:
        """Change fault injection, e.g. `set_faults(error_kind="429", fail_next=2)`, `set_faults(reset=True)`."""
        return self._call("/standin/faults", settings)

    def clear_faults(self) -> dict:
        return self._call("/standin/faults", {"reset": True})

    def stats(self) -> dict:
        return self._call("/standin/stats")

    def reset_stats(self) -> dict:
        return self._call("/standin/stats/reset", {})

    def health(self) -> dict:
        return self._call("/standin/health")


@contextlib.contextmanager
def run_standin(data_dir: str | Path, *, port: int = 0, odoo_version: str = "17", api_key: str | None = None,
                integration_password: str = "andon-integration-secret", integration_api_key: str | None = None,
                config: str | Path | None = None, mode: str = "subprocess", startup_timeout_s: float = 20.0,
                edition: str = "community", enterprise: bool = False, integration_groups: Any = None,
                integration_lang: str | None = None, **faults: Any) -> Iterator[StandinHandle]:
    """Run a stand-in on loopback for the duration of the block; `faults` are the --latency-ms style options
    (latency_ms, error_rate, error_kind, fail_next, outage, retry_after_s, seed). `edition` is community (the
    default) or enterprise (`enterprise=True` is its alias); `integration_groups` replaces the integration user's
    groups (xml ids)."""
    if mode not in ("subprocess", "thread"):
        raise ValueError("mode must be 'subprocess' or 'thread'")
    argv = ["--data", str(data_dir), "--odoo-version", str(odoo_version),
            "--integration-password", integration_password]
    if api_key:
        argv += ["--api-key", api_key]
    if integration_api_key:
        argv += ["--integration-api-key", integration_api_key]
    if config:
        argv += ["--config", str(config)]
    argv += ["--edition", "enterprise" if enterprise else edition]
    if integration_groups is not None:
        argv += ["--integration-groups", ",".join(integration_groups)]
    if integration_lang:
        argv += ["--integration-lang", integration_lang]
    for key, value in faults.items():
        flag = "--" + key.replace("_", "-")
        if value is True:
            argv.append(flag)
        elif value not in (None, False):
            argv += [flag, str(value)]
    handle = StandinHandle(Path(data_dir), argv, mode=mode, startup_timeout_s=startup_timeout_s)
    handle.start(port)
    try:
        yield handle
    finally:
        handle.stop()
