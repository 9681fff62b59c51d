"""The stand-in's Odoo services, independent of the wire: `common` (version, login, authenticate), `object`
(execute, execute_kw) and `db` (list), plus the JSON-2 entry point. Transports in `server.py` call these.
"""

from __future__ import annotations

import hashlib
import hmac
import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from andon.connectors.standin import hooks, security
from andon.connectors.standin.exceptions import (
    AccessDenied,
    AccessError,
    InvalidApiKey,
    NotFound,
    OdooServerException,
    ProgrammingError,
)
from andon.connectors.standin.orm import Env
from andon.connectors.standin.schema import EDITIONS, VERSIONS, build_models
from andon.connectors.standin.store import Store

DATABASE = "andon"
ADMIN_LOGIN = "admin"
INTEGRATION_LOGIN = "andon-integration"

#: Methods that act on a recordset: over JSON-2 they take `ids`; over XML-RPC/JSON-RPC ids are args[0].
RECORD_METHODS = {"write", "unlink", "read", "exists", "name_get", "button_start", "button_pending",
                  "button_finish", "button_mark_done", "action_validate", "do_scrap", "end_previous", "end_all"}
ORM_RIGHTS = {"create": "create", "write": "write", "unlink": "unlink"}


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass
class Credentials:
    """In-memory secrets (never persisted, never logged): password and API-key digests per login."""

    passwords: dict[str, str] = field(default_factory=dict)
    api_keys: dict[str, str] = field(default_factory=dict)  # digest -> login


class Registry:
    """One stand-in database: models for one Odoo version, users, rights and the SQLite store."""

    def __init__(self, data_dir: Path, *, odoo_version: str = "17", admin_password: str = "admin",
                 api_key: str | None = None, integration_password: str = "andon-integration-secret",
                 integration_api_key: str | None = None, edition: str = "community",
                 integration_groups: tuple[str, ...] | None = None) -> None:
        if odoo_version not in VERSIONS:
            raise ValueError(f"odoo_version must be one of {VERSIONS}, not {odoo_version!r}")
        if edition not in EDITIONS:
            raise ValueError(f"edition must be one of {EDITIONS}, not {edition!r}")
        self.version, self.edition = odoo_version, edition
        default = security.ENTERPRISE_INTEGRATION_GROUPS if edition == "enterprise" else security.INTEGRATION_GROUPS
        self.integration_groups = tuple(integration_groups if integration_groups is not None else default)
        security.closure(self.integration_groups)  # unknown group names fail here, at start-up
        self.models = build_models(odoo_version, edition)
        self.store = Store(Path(data_dir) / f"{DATABASE}.sqlite3")
        self.credentials = Credentials()
        self.credentials.passwords[ADMIN_LOGIN] = _digest(admin_password)
        self.credentials.passwords[INTEGRATION_LOGIN] = _digest(integration_password)
        if api_key:
            self.credentials.api_keys[_digest(api_key)] = ADMIN_LOGIN
        if integration_api_key:
            self.credentials.api_keys[_digest(integration_api_key)] = INTEGRATION_LOGIN

    # -- version ---------------------------------------------------------------------------------------------
    def version_info(self) -> dict[str, Any]:
        major = int(self.version)
        return {"server_version": f"{major}.0", "server_version_info": [major, 0, 0, "final", 0, ""],
                "server_serie": f"{major}.0", "protocol_version": 1}

    # -- users -----------------------------------------------------------------------------------------------
    def _user_id(self, login: str) -> int | None:
        with self.store.lock:
            tx = self.store.begin()
            env = Env(tx, self.models, 1, self.version)
            ids = env.search("res.users", [("login", "=", login)], check=False)
            return ids[0] if ids else None

    def _login_of(self, uid: int) -> str | None:
        with self.store.lock:
            vals = self.store.begin().get("res.users", uid)
            return vals.get("login") if vals and vals.get("active", True) else None

    def _secret_ok(self, login: str, secret: Any) -> bool:
        if not isinstance(secret, str) or not secret:
            return False
        digest = _digest(secret)
        stored = self.credentials.passwords.get(login)
        if stored is not None and hmac.compare_digest(stored, digest):
            return True
        return self.credentials.api_keys.get(digest) == login  # an API key works as a password over RPC

    def login(self, db: Any, login: Any, password: Any) -> int | bool:
        """`common.login`: the uid, or False for a wrong database, login or password (never an error)."""
        if db != DATABASE or not isinstance(login, str):
            return False
        uid = self._user_id(login)
        return uid if uid is not None and self._secret_ok(login, password) else False

    def check(self, db: Any, uid: Any, password: Any) -> int:
        """What `object.execute_kw` does first: AccessDenied unless db, uid and password match."""
        if db != DATABASE or not isinstance(uid, int):
            raise AccessDenied()
        login = self._login_of(uid)
        if login is None or not self._secret_ok(login, password):
            raise AccessDenied()
        return uid

    def uid_for_api_key(self, key: str | None) -> int:
        login = self.credentials.api_keys.get(_digest(key)) if key else None
        uid = self._user_id(login) if login else None
        if uid is None:
            raise InvalidApiKey()
        return uid

    def groups_of(self, uid: int) -> tuple[str, ...] | None:
        """The integration user's groups; None for the administrator (all rights, no record rules)."""
        return self.integration_groups if self._login_of(uid) == INTEGRATION_LOGIN else None

    def rights_for(self, uid: int) -> dict[str, set[str]] | None:
        groups = self.groups_of(uid)
        return None if groups is None else security.rights_of(groups)

    def _rules(self, uid: int, user: dict) -> dict[str, list]:
        groups = self.groups_of(uid)
        return {} if groups is None else security.rules_for(groups, uid, user.get("partner_id") or None)

    # -- calls -----------------------------------------------------------------------------------------------
    def execute_kw(self, uid: int, model: str, method: str, args: Any = None, kwargs: Any = None) -> Any:
        """Run one model method as one transaction; positional `args` as XML-RPC and JSON-RPC send them."""
        args = list(args or [])
        kwargs = dict(kwargs or {})
        return self._run(uid, model, method, args, kwargs, json2=False)

    def call_json2(self, uid: int, model: str, method: str, body: dict[str, Any]) -> Any:
        """Run one JSON-2 call: named arguments only, `ids` for recordset methods."""
        if model not in self.models:
            raise NotFound(f"Object {model} doesn't exist")
        return self._run(uid, model, method, [], dict(body), json2=True)

    def _run(self, uid: int, model: str, method: str, args: list, kwargs: dict, *, json2: bool) -> Any:
        if not isinstance(method, str) or not isinstance(model, str):
            raise ProgrammingError("model and method must be strings", builtin="TypeError")
        if method.startswith("_"):
            raise AccessError(f"Private methods (such as {method}) cannot be called remotely.")
        context = kwargs.pop("context", None) or {}
        with self.store.lock:
            tx = self.store.begin()
            user = tx.get("res.users", uid) or {}
            context = {"lang": user.get("lang") or "en_US", **context}
            env = Env(tx, self.models, uid, self.version, self.rights_for(uid), hooks, context,
                      rules=self._rules(uid, user))
            try:
                env.spec(model) if not json2 else None
                fn, record_method = self._resolve(env, model, method)
                if json2:
                    ids = kwargs.pop("ids", None)
                    call_args = [ids if ids is not None else []] if record_method else []
                else:
                    call_args = args
                try:
                    inspect.signature(fn).bind(*call_args, **kwargs)
                except TypeError as exc:
                    raise ProgrammingError(f"{model}.{method}(): {exc}", builtin="TypeError") from None
                try:
                    result = fn(*call_args, **kwargs)
                except OdooServerException:
                    raise
                except (ValueError, KeyError) as exc:
                    raise ProgrammingError(str(exc), builtin=type(exc).__name__) from None
                tx.commit()
                return _wire(result)
            except BaseException:
                tx.rollback()
                raise

    def _resolve(self, env: Env, model: str, method: str) -> tuple[Any, bool]:
        hook = hooks.METHODS.get((model, method))
        if hook is not None:
            right, fn = hook
            def call(*args: Any, **kwargs: Any) -> Any:
                env.check_access(model, right)
                return fn(env, *args, **kwargs)
            call.__signature__ = _hook_signature(fn)  # type: ignore[attr-defined]
            return call, method in RECORD_METHODS
        orm = {
            "create": lambda vals_list: env.create(model, vals_list),
            "write": lambda ids, vals: env.write(model, ids, vals),
            "unlink": lambda ids: env.unlink(model, ids),
            "read": lambda ids, fields=None, load="_classic_read": env.read(model, ids, fields, load),
            "exists": lambda ids: [i for i in ids if env.exists(model, i)],
            "search": lambda domain=None, offset=0, limit=None, order=None, count=False:
                env.search(model, domain, offset, limit, order, count),
            "search_read": lambda domain=None, fields=None, offset=0, limit=None, order=None,
                load="_classic_read": env.search_read(model, domain, fields, offset, limit, order, load),
            "search_count": lambda domain=None, limit=None: env.search_count(model, domain, limit),
            "fields_get": lambda allfields=None, attributes=None: env.fields_get(model, allfields, attributes),
            "name_search": lambda name="", args=None, operator="ilike", limit=100, domain=None:
                env.name_search(model, name, domain if domain is not None else args, operator, limit),
            "default_get": lambda fields_list: env.default_get(model, fields_list),
        }
        if int(self.version) <= 16:
            orm["name_get"] = lambda ids: [[i, env.display_name(model, i)] for i in ids]
        if method not in orm:
            raise ProgrammingError(f"The method '{model}.{method}' does not exist", builtin="AttributeError",
                                   http_status=404)
        return orm[method], method in RECORD_METHODS


def _hook_signature(fn: Any) -> inspect.Signature:
    params = list(inspect.signature(fn).parameters.values())[1:]  # drop env
    return inspect.Signature(params)


def _wire(value: Any) -> Any:
    """The result as Odoo's dispatcher hands it to the marshaller: None stays None (JSON null; XML-RPC cannot
    marshal it, see server.py), tuples become lists, keys strings."""
    if isinstance(value, dict):
        return {str(k): _wire(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_wire(v) for v in value]
    return value
