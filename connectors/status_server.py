"""HTTP endpoints beside a dataflow: Prometheus `/metrics`, liveness `/healthz`, readiness `/readyz`, and the
status page `/` (also `/status`, and `/status.json` for scripts) for plant and ERP people.

Example::

    server = StatusServer(9100, snapshot=board.snapshot).start()
    server.add_check("odoo", lambda: (breaker.state != "open", f"circuit {breaker.state}"))
    server.ready.set()          # once the dataflow is running

Readiness is `ready` set and every check passing; `/readyz` answers 503 with the failing checks' reasons.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from andon.connectors.status_page import render_status_page
from andon.errors import ResourceError

#: A readiness check: (ok, reason shown on /readyz).
Check = Callable[[], tuple[bool, str]]


class StatusServer:
    """Serves metrics, health and the status page on one port in a daemon thread."""

    def __init__(self, port: int, host: str = "0.0.0.0", *, snapshot: Callable[[], dict] | None = None,
                 title: str = "andon") -> None:
        self.port = port
        self.host = host
        self.ready = threading.Event()
        self.snapshot = snapshot
        self.title = title
        self.checks: dict[str, Check] = {}
        #: /healthz answers 503 with the reason while this says (False, reason); None: 200 while serving
        self.liveness: Check | None = None
        self._server: ThreadingHTTPServer | None = None

    def alive(self) -> tuple[bool, str]:
        """Liveness: the `liveness` check if one is set (a broken check counts as alive: it is not the flow)."""
        if self.liveness is None:
            return True, ""
        try:
            return self.liveness()
        except Exception as exc:
            return True, f"liveness check failed: {exc}"

    def add_check(self, name: str, check: Check) -> None:
        self.checks[name] = check

    def readiness(self) -> tuple[bool, list[str]]:
        """(ready, lines): ready when started and every check passes; one line per check."""
        if not self.ready.is_set():
            return False, ["starting"]
        ok, lines = True, []
        for name, check in self.checks.items():
            try:
                passed, reason = check()
            except Exception as exc:  # a broken check must say so, not hide readiness
                passed, reason = False, f"check failed: {exc}"
            ok &= bool(passed)
            lines.append(f"{name}: {'ok' if passed else 'not ready'}{f' ({reason})' if reason else ''}")
        return ok, lines

    def start(self) -> StatusServer:
        status = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    self._send(200, generate_latest(REGISTRY), CONTENT_TYPE_LATEST)
                elif path == "/healthz":
                    alive, reason = status.alive()
                    self._send(200 if alive else 503, f"{'ok' if alive else 'not alive'}"
                                                      f"{f': {reason}' if reason else ''}\n".encode())
                elif path == "/readyz":
                    ok, lines = status.readiness()
                    body = ("ready\n" if ok else "") + "".join(f"{line}\n" for line in lines if line != "starting")
                    if not ok and lines == ["starting"]:
                        body = "starting\n"
                    self._send(200 if ok else 503, body.encode())
                elif path in ("/", "/status"):
                    page = render_status_page(status._snapshot(), status.readiness(), status.title)
                    self._send(200, page.encode(), "text/html; charset=utf-8")
                elif path == "/status.json":
                    ok, lines = status.readiness()
                    doc = {**status._snapshot(), "ready": ok, "readiness": lines}
                    self._send(200, json.dumps(doc).encode(), "application/json")
                else:
                    self._send(404, b"not found: try /, /status.json, /metrics, /healthz or /readyz\n")

            def _send(self, code: int, body: bytes, ctype: str = "text/plain; charset=utf-8") -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:  # probes every few seconds would flood the log
                return

        try:
            self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        except OSError as exc:
            raise ResourceError(f"cannot serve metrics and health on {self.host}:{self.port}: {exc.strerror or exc}",
                                hint="stop what listens there, or choose another --metrics-port "
                                     "(ANDON_METRICS_PORT)") from None
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True, name="andon-status").start()
        return self

    def _snapshot(self) -> dict:
        return self.snapshot() if self.snapshot is not None else {}

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
