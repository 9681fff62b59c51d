"""The stand-in's HTTP front: XML-RPC, JSON-RPC (as odoorpc uses it), JSON-2 and the /standin control API.

    server = StandinServer(registry, port=0)
    server.start_in_thread()          # or server.serve_forever()
    server.url                        # "http://127.0.0.1:PORT"
"""

from __future__ import annotations

import json
import logging
import math
import socket
import threading
import time
import xmlrpc.client
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from andon.connectors.standin.exceptions import (
    AccessDenied,
    InternalServerError,
    InvalidApiKey,
    NotFound,
    OdooServerException,
    ProgrammingError,
    SerializationFailure,
)
from andon.connectors.standin.faults import Faults, Stats
from andon.connectors.standin.service import DATABASE, Registry

log = logging.getLogger(__name__)


def _traceback_text(exc: OdooServerException) -> str:
    return ("Traceback (most recent call last):\n  File \"odoo/service/model.py\", line 156, in retrying\n"
            f"    result = func()\n{exc.odoo_name.removeprefix('builtins.')}: {exc.message}\n")


def _error_data(exc: OdooServerException) -> dict[str, Any]:
    return {"name": exc.odoo_name, "message": exc.message, "arguments": [exc.message], "context": {},
            "debug": _traceback_text(exc)}


class _Fault(Exception):
    """An injected fault that is answered at the HTTP level (503, 429, reset)."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class StandinServer:
    """HTTP server for one `Registry`, with fault injection and call statistics."""

    def __init__(self, registry: Registry, *, host: str = "127.0.0.1", port: int = 0,
                 faults: Faults | None = None) -> None:
        self.registry = registry
        self.faults = faults or Faults()
        self.stats = Stats()
        handler = type("Handler", (_Handler,), {"standin": self})
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self.httpd.server_address[0]}:{self.port}"

    def serve_forever(self) -> None:
        self.httpd.serve_forever(poll_interval=0.1)

    def start_in_thread(self) -> StandinServer:
        self._thread = threading.Thread(target=self.serve_forever, name="odoo-standin", daemon=True)
        self._thread.start()
        return self

    def shutdown(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.registry.store.close()

    # -- fault gate ------------------------------------------------------------------------------------------
    def gate(self, service: str, model: str | None, method: str | None) -> None:
        """Apply latency and maybe raise the injected fault for one call; counts the call."""
        latency, kind = self.faults.decide()
        if latency:
            time.sleep(latency)
        if kind is None:
            return
        self.stats.record(service, model, method, f"fault:{kind}")
        if kind in ("serialization", "500"):
            exc: OdooServerException = SerializationFailure() if kind == "serialization" else \
                InternalServerError("injected application error (andon odoo-standin fault injection)")
            exc.injected = True  # type: ignore[attr-defined]
            raise exc
        raise _Fault(kind)


class _Handler(BaseHTTPRequestHandler):
    standin: StandinServer
    protocol_version = "HTTP/1.1"
    server_version = "Werkzeug/3.0.1 andon-odoo-standin"
    timeout = 120
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - %s", self.address_string(), format % args)

    # -- plumbing --------------------------------------------------------------------------------------------
    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self._headers_buffer.append(b"\r\n" + body)  # headers and body in one write
        self.flush_headers()

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json; charset=utf-8", headers)

    def _http_fault(self, fault: _Fault, as_json: bool) -> None:
        if fault.kind == "reset":
            self.close_connection = True
            try:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if fault.kind == "429":
            retry_after = str(math.ceil(self.standin.faults.snapshot()["retry_after_s"]))
            headers, status, name, text = {"Retry-After": retry_after}, 429, "TooManyRequests", "Too Many Requests"
        else:
            headers, status, name, text = {}, 503, "ServiceUnavailable", "Service Unavailable"
        if as_json:
            self._json(status, {"name": f"werkzeug.exceptions.{name}", "message": text, "arguments": [text],
                                "context": {}, "debug": ""}, headers)
        else:
            html = f"<html><head><title>{status} {text}</title></head><body><h1>{text}</h1></body></html>"
            self._send(status, html.encode(), "text/html; charset=utf-8", headers)

    # -- routing ---------------------------------------------------------------------------------------------
    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        standin = self.standin
        if path == "/standin/health":
            self._json(200, {"status": "ok", "database": DATABASE, "odoo_version": standin.registry.version,
                             "seeded": standin.registry.store.meta("seeded")})
        elif path == "/standin/stats":
            self._json(200, standin.stats.snapshot())
        elif path == "/standin/faults":
            self._json(200, standin.faults.snapshot())
        elif path == "/web/webclient/version_info":
            self._json(200, {"jsonrpc": "2.0", "id": None, "result": standin.registry.version_info()})
        elif path == "/web/version":
            self._json(200, standin.registry.version_info())
        elif path.startswith("/json/2/") and int(standin.registry.version) >= 19:
            self._json(405, {"name": "werkzeug.exceptions.MethodNotAllowed", "message": "Use POST",
                             "arguments": [], "context": {}, "debug": ""})
        else:
            self._send(404, b"<h1>Not Found</h1>", "text/html; charset=utf-8")

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        body = self._body()
        if path.startswith("/xmlrpc/2/"):
            self._xmlrpc(path.rsplit("/", 1)[1], body)
        elif path == "/jsonrpc":
            self._jsonrpc(body)
        elif path == "/web/webclient/version_info":
            self._version_info(body)
        elif path.startswith("/json/2/"):
            self._json2(path[len("/json/2/"):], body)
        elif path == "/standin/faults":
            self._set_faults(body)
        elif path == "/standin/stats/reset":
            self.standin.stats.reset()
            self._json(200, self.standin.stats.snapshot())
        else:
            self._send(404, b"<h1>Not Found</h1>", "text/html; charset=utf-8")

    def _set_faults(self, body: bytes) -> None:
        try:
            changes = json.loads(body or b"{}")
            if not isinstance(changes, dict):
                raise ValueError("send a JSON object of fault settings")
            if changes.pop("reset", False):
                self.standin.faults = Faults()
            self._json(200, self.standin.faults.update(**changes))
        except (ValueError, TypeError) as exc:
            self._json(400, {"error": str(exc)})

    # -- XML-RPC ---------------------------------------------------------------------------------------------
    def _xmlrpc(self, service: str, body: bytes) -> None:
        try:
            params, method = xmlrpc.client.loads(body, use_builtin_types=True)
        except Exception as exc:
            self._send(400, f"bad XML-RPC request: {exc}".encode(), "text/plain")
            return
        model = params[3] if service == "object" and len(params) > 4 else None
        label = params[4] if model else method
        try:
            self.standin.gate(f"xmlrpc.{service}", model, label)
            result = self._dispatch(service, method or "", list(params))
            try:
                payload = xmlrpc.client.dumps((result,), methodresponse=True, allow_none=False)
            except TypeError as exc:
                # Odoo's xmlrpc controller marshals with allow_none=False after the call committed
                # (odoo/addons/base/controllers/rpc.py 17/18, addons/rpc/controllers/xmlrpc.py 19)
                raise ProgrammingError(str(exc), builtin="TypeError", http_status=500) from None
            self.standin.stats.record(f"xmlrpc.{service}", model, label, "ok")
        except _Fault as fault:
            self._http_fault(fault, as_json=False)
            return
        except OdooServerException as exc:
            self._count_error(f"xmlrpc.{service}", model, label, exc)
            text = exc.message if exc.fault_code != 1 else _traceback_text(exc)
            payload = xmlrpc.client.dumps(xmlrpc.client.Fault(exc.fault_code, text), methodresponse=True)
        self._send(200, payload.encode(), "text/xml; charset=utf-8")

    def _count_error(self, service: str, model: str | None, method: str | None, exc: OdooServerException) -> None:
        if not getattr(exc, "injected", False):  # injected faults were counted by the gate
            self.standin.stats.record(service, model, method, exc.odoo_name)

    def _dispatch(self, service: str, method: str, args: list) -> Any:
        registry = self.standin.registry
        if service == "common":
            if method == "version":
                return {**registry.version_info()}
            if method == "login":
                return registry.login(*args[:3])
            if method == "authenticate":
                return registry.login(*args[:3])
            if method == "about":
                return "See http://openerp.com"
        elif service == "object":
            if method in ("execute_kw", "execute"):
                if len(args) < 5:
                    raise ProgrammingError(f"{method}() needs db, uid, password, model and method",
                                           builtin="TypeError")
                db, uid, password, model, name = args[:5]
                uid = registry.check(db, uid, password)
                if method == "execute":
                    return registry.execute_kw(uid, model, name, args[5:], {})
                kwargs = args[6] if len(args) > 6 else {}
                return registry.execute_kw(uid, model, name, args[5] if len(args) > 5 else [], kwargs)
        elif service == "db":
            if method == "list":
                return [DATABASE]
            if method == "server_version":
                return registry.version_info()["server_version"]
        raise ProgrammingError(f"No such method {service}.{method}", builtin="KeyError")

    # -- JSON-RPC --------------------------------------------------------------------------------------------
    def _read_jsonrpc(self, body: bytes) -> dict | None:
        try:
            request = json.loads(body or b"{}")
            if not isinstance(request, dict):
                raise ValueError
            return request
        except ValueError:
            self._send(400, b"<h1>Bad Request</h1><p>Invalid JSON data</p>", "text/html; charset=utf-8")
            return None

    def _version_info(self, body: bytes) -> None:
        request = self._read_jsonrpc(body)
        if request is None:
            return
        try:
            self.standin.gate("web", None, "version_info")
        except _Fault as fault:
            self._http_fault(fault, as_json=False)
            return
        except OdooServerException as exc:
            self._json(200, {"jsonrpc": "2.0", "id": request.get("id"), "error": {
                "code": 200, "message": "Odoo Server Error", "data": _error_data(exc)}})
            return
        self.standin.stats.record("web", None, "version_info", "ok")
        self._json(200, {"jsonrpc": "2.0", "id": request.get("id"), "result": self.standin.registry.version_info()})

    def _jsonrpc(self, body: bytes) -> None:
        request = self._read_jsonrpc(body)
        if request is None:
            return
        params = request.get("params") or {}
        service, method = params.get("service"), params.get("method")
        args = list(params.get("args") or [])
        model = args[3] if service == "object" and len(args) > 4 else None
        label = args[4] if model else method
        try:
            self.standin.gate(f"jsonrpc.{service}", model, label)
            result = self._dispatch(str(service), str(method), args)
            self.standin.stats.record(f"jsonrpc.{service}", model, label, "ok")
            self._json(200, {"jsonrpc": "2.0", "id": request.get("id"), "result": result})
        except _Fault as fault:
            self._http_fault(fault, as_json=False)
        except OdooServerException as exc:
            self._count_error(f"jsonrpc.{service}", model, label, exc)
            self._json(200, {"jsonrpc": "2.0", "id": request.get("id"), "error": {
                "code": 200, "message": "Odoo Server Error", "data": _error_data(exc)}})

    # -- JSON-2 ----------------------------------------------------------------------------------------------
    def _json2(self, route: str, body: bytes) -> None:
        registry = self.standin.registry
        if int(registry.version) < 19:
            self._send(404, b"<h1>Not Found</h1>", "text/html; charset=utf-8")
            return
        model, _, method = route.partition("/")
        try:
            self.standin.gate("json2", model, method)
            database = self.headers.get("X-Odoo-Database")
            if database is not None and database != DATABASE:
                raise NotFound(f"database {database!r} does not exist")
            scheme, _, key = (self.headers.get("Authorization") or "").partition(" ")
            if scheme.lower() != "bearer" or not key.strip():
                raise InvalidApiKey()
            uid = registry.uid_for_api_key(key.strip())
            try:
                payload = json.loads(body or b"{}")
            except ValueError:
                raise ProgrammingError("the request body is not valid JSON", http_status=400) from None
            if not isinstance(payload, dict):
                raise ProgrammingError("the request body must be a JSON object of named arguments",
                                       http_status=422)
            result = registry.call_json2(uid, model, method, payload)
            self.standin.stats.record("json2", model, method, "ok")
            self._json(200, result)
        except _Fault as fault:
            self._http_fault(fault, as_json=True)
        except AccessDenied as exc:
            self._count_error("json2", model, method, exc)
            self._json(401, _error_data(exc), {"WWW-Authenticate": "Bearer"})
        except OdooServerException as exc:
            self._count_error("json2", model, method, exc)
            self._json(exc.http_status, _error_data(exc))
