"""Raw protocol clients for tests and benchmarks: the stand-in (or a real Odoo) spoken to exactly as
third-party code would, with xmlrpc.client, odoorpc and plain HTTP for JSON-2 (no andon client code involved).

    client = RawClient("json2", handle.url, key="...")
    client.search_read("mrp.workcenter", [["code", "=", "WC-PRESS-01"]], ["working_state"])
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import xmlrpc.client
from typing import Any

import odoorpc

ADMIN_KEY = "admin-test-key"
INTEGRATION_KEY = "integration-test-key"
INTEGRATION_PASSWORD = "andon-integration-secret"


class Json2Error(Exception):
    def __init__(self, status: int, body: dict) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status, self.body = status, body


def json2(url: str, model: str, method: str, body: dict | None = None, key: str | None = ADMIN_KEY) -> Any:
    """One JSON-2 call with urllib: returns the decoded answer or raises Json2Error(status, body)."""
    headers = {"Content-Type": "application/json", "X-Odoo-Database": "andon"}
    if key is not None:
        headers["Authorization"] = f"bearer {key}"
    request = urllib.request.Request(f"{url}/json/2/{model}/{method}", data=json.dumps(body or {}).encode(),
                                     headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = {"raw": raw.decode(errors="replace")}
        raise Json2Error(exc.code, payload) from None


class RawClient:
    """The same four operations over one protocol, with that protocol's native client."""

    def __init__(self, protocol: str, url: str, login: str = "admin", secret: str = "admin",
                 key: str = ADMIN_KEY) -> None:
        self.protocol, self.url = protocol, url
        if protocol == "xmlrpc":
            self.uid = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/common").login("andon", login, secret)
            self.secret = secret
            self.proxy = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/object")
        elif protocol == "jsonrpc":
            port = int(url.rsplit(":", 1)[1])
            self.odoo = odoorpc.ODOO("127.0.0.1", port=port)
            self.odoo.login("andon", login, secret)
            self.uid = self.odoo.env.uid
        else:
            self.key = key
            self.uid = json2(url, "res.users", "context_get", {}, key=key)["uid"]

    def call(self, model: str, method: str, args: list, kwargs: dict | None = None, named: dict | None = None):
        """`args`/`kwargs` for RPC; JSON-2 uses `named` (required there)."""
        if self.protocol == "xmlrpc":
            return self.proxy.execute_kw("andon", self.uid, self.secret, model, method, args, kwargs or {})
        if self.protocol == "jsonrpc":
            return self.odoo.execute_kw(model, method, args, kwargs or {})
        return json2(self.url, model, method, named if named is not None else {}, key=self.key)

    def search_read(self, model: str, domain: list, fields: list[str]) -> list[dict]:
        return self.call(model, "search_read", [domain], {"fields": fields}, {"domain": domain, "fields": fields})

    def create(self, model: str, vals: dict) -> int:
        result = self.call(model, "create", [[vals]], named={"vals_list": [vals]})
        return result[0]

    def button(self, model: str, ids: list[int], method: str) -> Any:
        return self.call(model, method, [ids], named={"ids": ids})


def error_name(exc: BaseException) -> str:
    """The Odoo exception name / code behind a protocol error, to compare across protocols."""
    if isinstance(exc, xmlrpc.client.Fault):
        return f"fault{exc.faultCode}"
    if isinstance(exc, odoorpc.error.RPCError):
        return exc.info["data"]["name"]
    if isinstance(exc, Json2Error):
        return f"{exc.status} {exc.body.get('name')}"
    return type(exc).__name__


def error_text(exc: BaseException) -> str:
    """The Odoo message behind a protocol error (faultString, JSON-RPC data.message, JSON-2 message)."""
    if isinstance(exc, xmlrpc.client.Fault):
        return str(exc.faultString)
    if isinstance(exc, odoorpc.error.RPCError):
        return str(exc.info["data"]["message"])
    if isinstance(exc, Json2Error):
        return str(exc.body.get("message"))
    return str(exc)
