"""The three wires to Odoo: XML-RPC (stdlib xmlrpc.client), JSON-RPC (odoorpc 0.10.1) and JSON-2 (http.client).

Each transport does one attempt per call and turns every failure into a typed error from `errors.py`; retries,
the circuit breaker and rate limiting live in `client.py`. Transports are not shared across threads without the
client's lock. Secrets are held in memory only and never logged.
"""

from __future__ import annotations

import http.client
import json
import logging
import select
import socket
import urllib.error
import xmlrpc.client
from typing import Any, Protocol
from urllib.parse import urlsplit

import odoorpc

from andon.connectors.odoo.errors import (
    OdooAuthError,
    OdooConfigError,
    OdooError,
    OdooRequestError,
    OdooServerError,
    OdooTransientError,
    from_fault,
    from_http_status,
    from_odoo,
    parse_retry_after,
)

#: Model-level methods: over JSON-2 they take no `ids`; every other method is called on a recordset.
MODEL_METHODS = frozenset({"create", "search", "search_read", "search_count", "fields_get", "name_search",
                           "default_get", "check_object_reference", "context_get", "read_group"})
#: Names of the positional parameters of ORM methods, for JSON-2's named-arguments-only calls.
JSON2_PARAMS: dict[str, tuple[str, ...]] = {
    "create": ("vals_list",), "write": ("vals",), "read": ("fields", "load"), "unlink": (), "exists": (),
    "search": ("domain", "offset", "limit", "order"), "search_read": ("domain", "fields", "offset", "limit", "order"),
    "search_count": ("domain", "limit"), "fields_get": ("allfields", "attributes"),
    "name_search": ("name", "domain", "operator", "limit"), "default_get": ("fields_list",),
    "check_object_reference": ("module", "xml_id", "raise_on_access_error"), "context_get": (),
}


class Transport(Protocol):
    name: str

    def version(self) -> dict[str, Any]: ...
    def authenticate(self) -> int: ...
    def execute_kw(self, model: str, method: str, args: list, kwargs: dict) -> Any: ...
    def close(self) -> None: ...


def _network_error(exc: BaseException, **kw: Any) -> OdooError | None:
    """Map socket-level failures; None when `exc` is not one."""
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        exc = exc.reason if isinstance(exc.reason, BaseException) else exc
    if isinstance(exc, ConnectionRefusedError):
        return OdooTransientError(f"connection refused ({exc})", reason="connection_refused", **kw)
    if isinstance(exc, TimeoutError | socket.timeout):
        return OdooTransientError(f"timed out ({exc or 'no answer'})", reason="timeout", **kw)
    if isinstance(exc, http.client.RemoteDisconnected | ConnectionResetError | ConnectionAbortedError |
                  BrokenPipeError | http.client.IncompleteRead | http.client.BadStatusLine):
        return OdooTransientError(f"connection closed without an answer ({type(exc).__name__})",
                                  reason="connection_reset", **kw)
    if isinstance(exc, socket.gaierror):
        return OdooTransientError(f"cannot resolve host ({exc})", reason="connection_refused", **kw)
    if isinstance(exc, OSError) and not isinstance(exc, urllib.error.HTTPError):
        return OdooTransientError(f"network error ({exc})", reason="connection_reset", **kw)
    return None


def _dropped(sock: socket.socket | None) -> bool:
    """True when a kept-alive socket was closed by the server (readable at EOF), as urllib3 checks."""
    if sock is None:
        return True
    try:
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


# -- XML-RPC -----------------------------------------------------------------------------------------------------
class _KeepAliveMixin:
    """xmlrpc.client transport with a timeout and without the blind resend of the stdlib's request()."""

    timeout_s: float = 30.0

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        conn = super().make_connection(host)  # type: ignore[misc]
        conn.timeout = self.timeout_s
        return conn

    def request(self, host: Any, handler: str, request_body: bytes, verbose: bool = False) -> Any:
        cached = getattr(self, "_connection", (None, None))[1]
        if cached is not None and _dropped(cached.sock) and cached.sock is not None:
            self.close()  # type: ignore[attr-defined]
        try:
            return self.single_request(host, handler, request_body, verbose)  # type: ignore[attr-defined]
        except BaseException:
            self.close()  # type: ignore[attr-defined]
            raise


class _Transport(_KeepAliveMixin, xmlrpc.client.Transport):
    pass


class _SafeTransport(_KeepAliveMixin, xmlrpc.client.SafeTransport):
    pass


#: Public methods andon calls that return None in some Odoo versions (18/19 mrp_workorder.py `button_start` and
#: 19 `button_pending` have no return statement). JSON-RPC and JSON-2 carry that as null; XML-RPC cannot.
RETURNS_NONE = frozenset({"button_start", "button_pending"})
_MARSHAL_NONE = "cannot marshal None unless allow_none is enabled"


def returned_none(method: str, fault_code: int, text: str) -> bool:
    """True for Odoo's answer to a call that succeeded and returned None over XML-RPC: its marshaller runs with
    allow_none=False after the transaction committed and answers faultCode 1 "TypeError: cannot marshal None"
    (odoo/addons/base/controllers/rpc.py 17/18, addons/rpc/controllers/xmlrpc.py 19). Only for methods known to
    return None, so a real error of another method is never taken for success."""
    return method in RETURNS_NONE and fault_code == 1 and _MARSHAL_NONE in text


class XmlRpcTransport:
    """`/xmlrpc/2/common` and `/xmlrpc/2/object` with kept-alive connections."""

    name = "xmlrpc"

    def __init__(self, url: str, database: str, username: str, secret: str, timeout_s: float) -> None:
        self._db, self._username, self._secret = database, username, secret
        self.uid: int | None = None
        cls = _SafeTransport if urlsplit(url).scheme == "https" else _Transport
        self._common_t, self._object_t = cls(), cls()
        self._common_t.timeout_s = self._object_t.timeout_s = timeout_s
        base = url.rstrip("/")
        self._common = xmlrpc.client.ServerProxy(f"{base}/xmlrpc/2/common", transport=self._common_t,
                                                 allow_none=True, use_builtin_types=True)
        self._object = xmlrpc.client.ServerProxy(f"{base}/xmlrpc/2/object", transport=self._object_t,
                                                 allow_none=True, use_builtin_types=True)

    def _call(self, fn: Any, *args: Any, model: str | None = None, method: str) -> Any:
        kw = {"model": model, "method": method, "transport": self.name}
        try:
            return fn(*args)
        except xmlrpc.client.Fault as exc:
            if returned_none(method, exc.faultCode, str(exc.faultString)):
                return None
            raise from_fault(exc.faultCode, str(exc.faultString), **kw) from None
        except xmlrpc.client.ProtocolError as exc:
            retry_after = parse_retry_after(exc.headers.get("Retry-After") if exc.headers else None)
            raise from_http_status(exc.errcode, f"HTTP {exc.errcode} {exc.errmsg}", retry_after, **kw) from None
        except (OSError, http.client.HTTPException) as exc:
            mapped = _network_error(exc, **kw)
            if mapped is None:
                raise OdooServerError(f"unexpected transport failure: {exc!r}", **kw) from exc
            raise mapped from None
        except (xmlrpc.client.ResponseError, OverflowError, TypeError) as exc:
            raise OdooServerError(f"cannot decode the XML-RPC answer: {exc}", **kw) from None

    def version(self) -> dict[str, Any]:
        return self._call(self._common.version, method="version")

    def authenticate(self) -> int:
        uid = self._call(self._common.authenticate, self._db, self._username, self._secret, {}, method="authenticate")
        if not uid:
            raise OdooAuthError(f"login {self._username!r} to database {self._db!r} refused", method="authenticate",
                                transport=self.name)
        self.uid = int(uid)
        return self.uid

    def execute_kw(self, model: str, method: str, args: list, kwargs: dict) -> Any:
        uid = self.uid if self.uid is not None else self.authenticate()
        return self._call(self._object.execute_kw, self._db, uid, self._secret, model, method, list(args),
                          dict(kwargs), model=model, method=method)

    def close(self) -> None:
        self._common_t.close()
        self._object_t.close()


# -- JSON-RPC (odoorpc) ------------------------------------------------------------------------------------------
class _HideSecrets(logging.Filter):
    """odoorpc logs every request body at DEBUG, passwords in `args` included: drop those records."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(("(JSON,send)", "(JSON,recv)"))


logging.getLogger("odoorpc.rpc.jsonrpclib").addFilter(_HideSecrets())


class JsonRpcTransport:
    """JSON-RPC through odoorpc 0.10.1 (`/web/webclient/version_info`, `/jsonrpc` common.login, object.execute_kw)."""

    name = "jsonrpc"

    def __init__(self, url: str, database: str, username: str, secret: str, timeout_s: float) -> None:
        parts = urlsplit(url)
        if parts.path not in ("", "/"):
            raise OdooConfigError(f"odoorpc cannot reach Odoo under a path ({url}); use the server root URL")
        self._host, self._ssl = parts.hostname or "127.0.0.1", parts.scheme == "https"
        self._port = parts.port or (443 if self._ssl else 80)
        self._db, self._username, self._secret, self._timeout = database, username, secret, timeout_s
        self._odoo: odoorpc.ODOO | None = None
        self.uid: int | None = None

    def _call(self, fn: Any, *args: Any, model: str | None = None, method: str) -> Any:
        kw = {"model": model, "method": method, "transport": self.name}
        try:
            return fn(*args)
        except odoorpc.error.RPCError as exc:
            info = exc.info if isinstance(exc.info, dict) else {}
            data = info.get("data") or {}
            message = data.get("message") or str(exc)
            if not info and "Wrong login" in str(exc):
                raise OdooAuthError(f"login {self._username!r} to database {self._db!r} refused", **kw) from None
            raise from_odoo(data.get("name"), message, debug=data.get("debug"), **kw) from None
        except urllib.error.HTTPError as exc:
            retry_after = parse_retry_after(exc.headers.get("Retry-After") if exc.headers else None)
            raise from_http_status(exc.code, f"HTTP {exc.code} {exc.reason}", retry_after, **kw) from None
        except odoorpc.error.InternalError as exc:
            raise OdooServerError(str(exc), **kw) from None
        except (OSError, http.client.HTTPException) as exc:
            mapped = _network_error(exc, **kw)
            if mapped is None:
                raise OdooServerError(f"unexpected transport failure: {exc!r}", **kw) from exc
            raise mapped from None
        except ValueError as exc:  # json decoding of a non-JSON answer
            raise OdooServerError(f"cannot decode the JSON-RPC answer: {exc}", **kw) from None

    def _connect(self) -> odoorpc.ODOO:
        if self._odoo is None:
            protocol = "jsonrpc+ssl" if self._ssl else "jsonrpc"
            try:
                self._odoo = self._call(odoorpc.ODOO, self._host, protocol, self._port, self._timeout,
                                        method="version_info")
            except KeyError as exc:
                # odoorpc reads result["result"] of the version_info handshake without checking for an error
                # answer; that request only reads, so a refused handshake is safe to retry.
                raise OdooTransientError(f"Odoo answered the connection handshake with an error ({exc!r})",
                                         reason="unavailable", method="version_info", transport=self.name) from None
        return self._odoo

    def version(self) -> dict[str, Any]:
        odoo = self._connect()
        return self._call(odoo.json, "/web/webclient/version_info", {}, method="version_info")["result"]

    def authenticate(self) -> int:
        odoo = self._connect()
        self._call(odoo.login, self._db, self._username, self._secret, method="login")
        self.uid = int(odoo.env.uid)
        return self.uid

    def execute_kw(self, model: str, method: str, args: list, kwargs: dict) -> Any:
        if self.uid is None:
            self.authenticate()
        return self._call(self._odoo.execute_kw, model, method, list(args), dict(kwargs), model=model, method=method)

    def close(self) -> None:
        self._odoo, self.uid = None, None


# -- JSON-2 ------------------------------------------------------------------------------------------------------
class Json2Transport:
    """Odoo 19's `POST /json/2/<model>/<method>` with a bearer API key, on one kept-alive connection."""

    name = "json2"

    def __init__(self, url: str, database: str, api_key: str | None, timeout_s: float) -> None:
        if not api_key:
            raise OdooConfigError("the json2 transport needs an API key",
                                  hint="set ANDON_ODOO_API_KEY (an API key of the integration user)")
        parts = urlsplit(url)
        self._https, self._host = parts.scheme == "https", parts.hostname or "127.0.0.1"
        self._port = parts.port or (443 if self._https else 80)
        self._prefix = parts.path.rstrip("/")
        self._headers = {"Authorization": f"bearer {api_key}", "Content-Type": "application/json",
                         "X-Odoo-Database": database, "User-Agent": "andon-odoo-client"}
        self._timeout = timeout_s
        self._conn: http.client.HTTPConnection | None = None
        self.uid: int | None = None

    def __repr__(self) -> str:
        return f"Json2Transport({self._host}:{self._port})"

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is not None and self._conn.sock is not None and _dropped(self._conn.sock):
            self._conn.close()
            self._conn = None
        if self._conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._conn = cls(self._host, self._port, timeout=self._timeout)
        return self._conn

    def post(self, model: str, method: str, body: dict[str, Any]) -> Any:
        kw = {"model": model, "method": method, "transport": self.name}
        conn = self._connection()
        try:
            conn.request("POST", f"{self._prefix}/json/2/{model}/{method}", json.dumps(body), self._headers)
            response = conn.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            self._conn = None
            raise (_network_error(exc, **kw) or OdooServerError(f"unexpected failure: {exc!r}", **kw)) from None
        if response.getheader("Connection", "").lower() == "close":
            conn.close()
            self._conn = None
        if response.status == 200:
            try:
                return json.loads(raw) if raw else None
            except ValueError as exc:
                raise OdooServerError(f"cannot decode the JSON-2 answer: {exc}", **kw) from None
        retry_after = parse_retry_after(response.getheader("Retry-After"))
        try:
            error = json.loads(raw)
        except ValueError:
            error = None
        if not isinstance(error, dict) or "name" not in error:
            raise from_http_status(response.status, f"HTTP {response.status} {response.reason}", retry_after, **kw)
        mapped = from_odoo(error.get("name"), str(error.get("message") or response.reason), status=response.status,
                           debug=error.get("debug"), **kw)
        if isinstance(mapped, OdooTransientError) and retry_after is not None:
            mapped.retry_after = retry_after
        if response.status == 401:
            raise OdooAuthError(mapped.odoo_message, status=401, odoo_name=error.get("name"), **kw)
        raise mapped

    def version(self) -> dict[str, Any]:
        conn = self._connection()
        try:
            conn.request("GET", f"{self._prefix}/web/version", headers={"User-Agent": "andon-odoo-client"})
            response = conn.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            self._conn = None
            raise (_network_error(exc, method="version", transport=self.name)
                   or OdooServerError(repr(exc))) from None
        if response.status != 200:
            raise from_http_status(response.status, f"HTTP {response.status} {response.reason}", None,
                                   method="version", transport=self.name)
        return json.loads(raw)

    def authenticate(self) -> int:
        context = self.post("res.users", "context_get", {})
        self.uid = int(context.get("uid") or 0) or None
        if self.uid is None:
            raise OdooAuthError("the API key was accepted but no user id came back", method="context_get",
                                transport=self.name)
        return self.uid

    def execute_kw(self, model: str, method: str, args: list, kwargs: dict) -> Any:
        body = dict(kwargs)
        args = list(args)
        if method not in MODEL_METHODS:
            if not args and "ids" not in body:
                raise OdooRequestError("recordset methods need the record ids as first argument", model=model,
                                       method=method, transport=self.name)
            if args:
                ids = args.pop(0)
                body["ids"] = [ids] if isinstance(ids, int) else list(ids)
        names = JSON2_PARAMS.get(method, ())
        if len(args) > len(names):
            raise OdooRequestError(f"JSON-2 takes named arguments only; pass the extra arguments of {method} as "
                                   "keyword arguments", model=model, method=method, transport=self.name)
        for name, value in zip(names, args, strict=False):
            if name in body:
                raise OdooRequestError(f"argument {name!r} given twice", model=model, method=method,
                                       transport=self.name)
            body[name] = value
        return self.post(model, method, body)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
