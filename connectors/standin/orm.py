"""The generic ORM of the stand-in: create, write, unlink, read, search and friends over the declarative schema.

An `Env` is one call's view of the database: a transaction, the model table of one Odoo version, the calling
user and that user's rights. Model-specific behaviour comes from `hooks.py` through `Env.hooks`.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from andon.connectors.standin import domain as domains
from andon.connectors.standin.exceptions import (
    AccessError,
    MissingError,
    ProgrammingError,
    UserError,
    ValidationError,
)
from andon.connectors.standin.schema import Field, ModelSpec, now_str
from andon.connectors.standin.store import Transaction

OPERATION_WORDS = {"read": "access", "write": "modify", "create": "create", "unlink": "delete"}


class Env:
    """One call's environment: `tx` (Transaction), `models` (name -> ModelSpec), `uid`, `rights`, `version`."""

    def __init__(self, tx: Transaction, models: dict[str, ModelSpec], uid: int, version: str,
                 rights: dict[str, set[str]] | None = None, hooks: Any = None, context: dict | None = None,
                 rules: dict[str, list] | None = None) -> None:
        self.tx, self.models, self.uid, self.version = tx, models, uid, version
        self.rights, self.hooks, self.context = rights, hooks, context or {}
        self.rules = rules or {}  # model -> record-rule domain (None rights = superuser: no rules)

    @property
    def lang(self) -> str:
        return str(self.context.get("lang") or "en_US")

    # -- helpers -------------------------------------------------------------------------------------------------
    def spec(self, model: str) -> ModelSpec:
        try:
            return self.models[model]
        except KeyError:
            raise UserError(f"Object {model} doesn't exist") from None

    def check_access(self, model: str, operation: str) -> None:
        if self.rights is None or operation in self.rights.get(model, ()):
            return
        spec = self.spec(model)
        from andon.connectors.standin.security import groups_for

        groups = "".join(f"\n\t- {name}" for name in [*groups_for(model, operation), "Administration/Settings"])
        raise AccessError(
            f"You are not allowed to {OPERATION_WORDS[operation]} '{spec.description}' ({model}) records.\n\n"
            f"This operation is allowed for the following groups:{groups}\n\n"
            f"Contact your administrator to request access if necessary.")

    def check_rules(self, model: str, ids: list[int], operation: str) -> None:
        """Odoo's record rules: records outside the rule's domain are an AccessError for this user."""
        if self.rights is None or model not in self.rules or not ids:
            return
        visible = set(self.search(model, [("id", "in", ids)], check=False, rules=True))
        hidden = [rid for rid in ids if rid not in visible and self.tx.get(model, rid) is not None]
        if hidden:
            spec = self.models[model]
            raise AccessError(
                f"Uh-oh! Looks like you have stumbled upon some top-secret records.\n\nSorry, {self.uid} "
                f"doesn't have '{operation}' access to:\n- {spec.description} ({model}), ids {hidden}\n\n"
                "If you really, really need access, perhaps you can win over your friendly administrator with "
                "a batch of freshly baked cookies.")

    def next_sequence(self, model: str, prefix: str) -> str:
        key = f"name_seq:{model}"
        value = int(self.tx.meta(key) or 0) + 1
        self.tx.set_meta(key, str(value))
        return f"{prefix}{value:05d}"

    def record(self, model: str, rid: int) -> dict[str, Any]:
        """Stored values of one record (raises MissingError)."""
        vals = self.tx.get(model, rid)
        if vals is None:
            raise MissingError(f"Record does not exist or has been deleted.\n(Record: {model}({rid},), "
                               f"User: {self.uid})")
        return vals

    def exists(self, model: str, rid: Any) -> bool:
        return isinstance(rid, int) and not isinstance(rid, bool) and self.tx.get(model, rid) is not None

    def display_name(self, model: str, rid: int) -> str:
        vals = self.tx.get(model, rid)
        if vals is None:
            return f"{model},{rid}"
        spec = self.models[model]
        if self.hooks is not None and model in self.hooks.DISPLAY_NAME:
            return self.hooks.DISPLAY_NAME[model](self, rid, vals)
        value = vals.get(spec.rec_name)
        field = spec.fields.get(spec.rec_name)
        if field is not None and field.type == "many2one" and value:
            return self.display_name(field.relation, value)
        return str(value) if value not in (None, False) else f"{model},{rid}"

    def value(self, model: str, rid: int, name: str) -> Any:
        """One field's value as stored or computed (many2one as id or False, x2many as list of ids)."""
        spec = self.models[model]
        field = spec.fields[name]
        if name == "display_name":
            return self.display_name(model, rid)
        if field.type == "one2many":
            return self.search(field.relation, [(field.inverse, "=", rid)], check=False)
        if field.computed and self.hooks is not None and (model, name) in self.hooks.COMPUTE:
            return self.hooks.COMPUTE[(model, name)](self, rid)
        vals = self.record(model, rid)
        if name == "id":
            return rid
        value = vals.get(name)
        if field.translate and self.lang != "en_US":
            value = vals.get(f"{name}@{self.lang}", value)
        if value is None:
            return [] if field.type == "many2many" else (0 if field.type in ("integer", "float") else False)
        return value

    def path_value(self, model: str, rid: int, path: str) -> tuple[Any, str, str]:
        """Follow a dotted field path; returns (value, last model, last field)."""
        parts = path.split(".")
        for i, name in enumerate(parts):
            spec = self.models[model]
            if name == "id":
                return rid, model, name
            if name not in spec.fields:
                raise ProgrammingError(f"Invalid field {model}.{name} in leaf {path!r}")
            value = self.value(model, rid, name)
            field = spec.fields[name]
            if i == len(parts) - 1:
                return value, model, name
            if field.type != "many2one" or not value:
                return False, model, name
            model, rid = field.relation, value
        raise AssertionError("unreachable")

    # -- conversion ----------------------------------------------------------------------------------------------
    def convert(self, model: str, name: str, field: Field, value: Any, old: Any = None) -> Any:
        if value is None:
            value = False
        kind = field.type
        if kind in ("char", "text", "html"):
            return value if value is False or isinstance(value, str) else str(value)
        if kind == "boolean":
            return bool(value)
        if kind == "integer":
            return int(value or 0)
        if kind == "float":
            try:
                return float(value or 0.0)
            except (TypeError, ValueError):
                raise ProgrammingError(f"could not convert {value!r} to float for {model}.{name}") from None
        if kind in ("date", "datetime"):
            if value is False or value == "":
                return False
            if not isinstance(value, str):
                raise ProgrammingError(f"{model}.{name}: expected a string, got {value!r}")
            text = value[:10] if kind == "date" else value[:19]
            if kind == "datetime" and len(text) == 10:
                text += " 00:00:00"
            fmt = "%Y-%m-%d" if kind == "date" else "%Y-%m-%d %H:%M:%S"
            try:
                datetime.strptime(text, fmt)
            except ValueError:
                raise ProgrammingError(f"time data {value!r} does not match format {fmt!r}") from None
            return text
        if kind == "selection":
            if value is False:
                return False
            if value not in {key for key, _ in field.selection}:
                raise ProgrammingError(f"Wrong value for {model}.{name}: {value!r}")
            return value
        if kind == "many2one":
            if isinstance(value, list | tuple) and value:
                value = value[0]
            if value is False or value == 0:
                return False
            if not self.exists(field.relation, value):
                raise ValidationError(
                    f"The operation cannot be completed: {self.models[model].description} ({model}) field "
                    f"{name} refers to {field.relation} record {value!r}, which does not exist.")
            return value
        if kind == "many2many":
            ids = list(old or [])
            for command in value or []:
                if isinstance(command, int):
                    ids.append(command)
                elif command[0] == 6:
                    ids = list(command[2])
                elif command[0] == 4:
                    ids.append(command[1])
                elif command[0] == 3:
                    ids = [i for i in ids if i != command[1]]
                elif command[0] == 5:
                    ids = []
                else:
                    raise ProgrammingError(f"{model}.{name}: x2many command {command!r} is not supported")
            for rid in ids:
                if not self.exists(field.relation, rid):
                    raise ValidationError(f"{model}.{name}: {field.relation} record {rid} does not exist")
            return sorted(set(ids))
        raise ProgrammingError(f"{model}.{name}: writing {kind} fields is not supported by the stand-in")

    def _prepare(self, model: str, vals: Any, old: dict[str, Any] | None) -> dict[str, Any]:
        if not isinstance(vals, dict):
            raise ProgrammingError(f"expected a dict of field values for {model}, got {type(vals).__name__}",
                                   builtin="TypeError")
        spec = self.spec(model)
        out: dict[str, Any] = {}
        for name, value in vals.items():
            field = spec.fields.get(name)
            if field is None or name == "id":
                raise ProgrammingError(f"Invalid field {name!r} on model {model!r}")
            if field.computed or name in ("create_date", "write_date"):
                continue
            if field.translate and old is not None and self.lang != "en_US":
                # Odoo writes a translatable field in the context's language only
                out[f"{name}@{self.lang}"] = self.convert(model, name, field, value)
                continue
            out[name] = self.convert(model, name, field, value, (old or {}).get(name))
        return out

    def _check_required(self, model: str, vals: dict[str, Any]) -> None:
        spec = self.models[model]
        for name, field in spec.fields.items():
            if field.required and vals.get(name) in (None, False, "") and field.type not in ("boolean", "float",
                                                                                             "integer"):
                label = field.label(name)
                raise ValidationError(
                    "The operation cannot be completed:\n- Create/update: a mandatory field is not set.\n"
                    "- Delete: another model requires the record being deleted. If possible, archive it instead."
                    f"\n\nModel: {spec.description} ({model})\nField: {label} ({name})")

    # -- ORM methods ---------------------------------------------------------------------------------------------
    def create(self, model: str, vals_list: Any) -> int | list[int]:
        self.check_access(model, "create")
        single = isinstance(vals_list, dict)
        ids = [self._create_one(model, vals) for vals in ([vals_list] if single else list(vals_list))]
        return ids[0] if single else ids

    def _create_one(self, model: str, vals: Any) -> int:
        spec = self.spec(model)
        prepared = self._prepare(model, vals, None)
        record: dict[str, Any] = {}
        for name, field in spec.fields.items():
            if name in prepared or field.computed or field.type == "one2many":
                continue
            default = field.default(self) if callable(field.default) else field.default
            if default is not None:
                record[name] = default
        record.update(prepared)
        if self.hooks is not None and model in self.hooks.ON_SAVE:
            self.hooks.ON_SAVE[model](self, None, record, {})
        self._check_required(model, record)
        stamp = now_str()
        record["create_date"] = record["write_date"] = stamp
        rid = self.tx.next_id(model)
        self.tx.put(model, rid, record)
        self._constrain(model, rid)
        return rid

    def _constrain(self, model: str, rid: int) -> None:
        if self.hooks is not None and model in getattr(self.hooks, "CONSTRAINTS", {}):
            self.hooks.CONSTRAINTS[model](self, rid)

    def write(self, model: str, ids: Any, vals: Any) -> bool:
        self.check_access(model, "write")
        self.check_rules(model, _ids(ids), "write")
        for rid in _ids(ids):
            old = self.record(model, rid)
            prepared = self._prepare(model, vals, old)
            record = {**old, **prepared}
            if self.hooks is not None and model in self.hooks.ON_SAVE:
                self.hooks.ON_SAVE[model](self, rid, record, old)
            self._check_required(model, record)
            record["write_date"] = now_str()
            self.tx.put(model, rid, record)
            self._constrain(model, rid)
        return True

    def unlink(self, model: str, ids: Any) -> bool:
        self.check_access(model, "unlink")
        self.check_rules(model, _ids(ids), "unlink")
        for rid in _ids(ids):
            self.record(model, rid)
            self.tx.delete(model, rid)
        return True

    def read(self, model: str, ids: Any, fields: Any = None, load: str = "_classic_read") -> list[dict]:
        self.check_access(model, "read")
        spec = self.spec(model)
        names = list(fields or [n for n in spec.fields])
        for name in names:
            if name != "id" and name not in spec.fields:
                raise ProgrammingError(f"Invalid field {name!r} on model {model!r}")
        self.check_rules(model, _ids(ids), "read")
        rows = []
        for rid in _ids(ids):
            self.record(model, rid)
            row: dict[str, Any] = {"id": rid}
            for name in names:
                if name == "id":
                    continue
                value = self.value(model, rid, name)
                field = spec.fields[name]
                if field.type == "many2one" and value and load != "_classic_write":
                    value = [value, self.display_name(field.relation, value)]
                row[name] = value
            rows.append(row)
        return rows

    def search(self, model: str, domain: Any = None, offset: int = 0, limit: int | None = None,
               order: str | None = None, count: bool = False, check: bool = True,
               rules: bool | None = None) -> list[int] | int:
        if check:
            self.check_access(model, "read")
        spec = self.spec(model)
        norm = domains.normalize(domain)
        rule = self.rules.get(model) if (check if rules is None else rules) and self.rights is not None else None
        if rule:
            norm = ["&"] + (norm or [("id", "!=", 0)]) + domains.normalize(rule)
        if not any(isinstance(t, tuple) and t[0] == "active" for t in norm) and "active" in spec.fields:
            norm = (["&"] + norm + [("active", "=", True)]) if norm else [("active", "=", True)]
        hits = []
        plain = {name for name, f in spec.fields.items() if not f.computed and f.type not in (
            "one2many", "many2many") and not (f.translate and self.lang != "en_US")}
        for rid in self.tx.ids(model):
            vals = self.tx.get(model, rid)
            get = functools.partial(self._path_for_domain, model, rid)

            def value(path: str, vals: dict = vals, get=get, rid: int = rid) -> Any:
                if path in plain:  # fast path: a stored scalar of this record
                    found = vals.get(path)
                    return False if found is None else found
                if path == "id":
                    return rid
                return get(path)[0]

            if domains.matches(norm, value, lambda path, g=get: g(path)[1]):
                hits.append(rid)
        if count:
            return len(hits)
        hits = self._sort(model, hits, order or spec.order)
        hits = hits[int(offset or 0):]
        return hits[: int(limit)] if limit else hits

    def _path_for_domain(self, model: str, rid: int, path: str) -> tuple[Any, str | None]:
        value, last_model, last_field = self.path_value(model, rid, path)
        field = self.models[last_model].fields.get(last_field)
        name = None
        if field is not None and field.type == "many2one" and value:
            name = self.display_name(field.relation, value)
        return value, name

    def _sort(self, model: str, ids: list[int], order: str) -> list[int]:
        spec = self.models[model]
        keys = [part.split() for part in order.split(",") if part.strip()]
        out = list(ids)
        for key in reversed(keys):
            name, desc = key[0], len(key) > 1 and key[1].lower() == "desc"
            if name != "id" and name not in spec.fields:
                raise ProgrammingError(f"Invalid field {name!r} on model {model!r} in order {order!r}")

            def sort_key(rid: int, name: str = name) -> tuple:
                value = rid if name == "id" else self.value(model, rid, name)
                null = value is False or value is None
                return (null, "" if null else value)

            out.sort(key=sort_key, reverse=desc)
        return out

    def search_read(self, model: str, domain: Any = None, fields: Any = None, offset: int = 0,
                    limit: int | None = None, order: str | None = None, load: str = "_classic_read") -> list[dict]:
        return self.read(model, self.search(model, domain, offset, limit, order), fields, load)

    def search_count(self, model: str, domain: Any = None, limit: int | None = None) -> int:
        count = self.search(model, domain, count=True)
        return min(count, limit) if limit else count

    def fields_get(self, model: str, allfields: Any = None, attributes: Any = None) -> dict[str, dict]:
        self.check_access(model, "read")
        spec = self.spec(model)
        out = {"id": {"type": "integer", "string": "ID", "required": False, "readonly": True}}
        out.update({name: field.describe(name) for name, field in spec.fields.items()})
        if allfields:
            out = {name: desc for name, desc in out.items() if name in allfields}
        if attributes:
            out = {name: {k: v for k, v in desc.items() if k in attributes} for name, desc in out.items()}
        return out

    def name_search(self, model: str, name: str = "", domain: Any = None, operator: str = "ilike",
                    limit: int = 100) -> list[list]:
        spec = self.spec(model)
        ids = self.search(model, domain, limit=None)
        out = []
        for rid in ids:
            label = self.display_name(model, rid)
            code = self.tx.get(model, rid).get("code") or self.tx.get(model, rid).get("default_code")
            if not name or domains._compare(operator, label, name, lambda: None) or (
                    code and domains._compare(operator, code, name, lambda: None)):
                out.append([rid, label])
        del spec
        return out[: int(limit)] if limit else out

    def default_get(self, model: str, fields_list: Any) -> dict[str, Any]:
        spec = self.spec(model)
        out = {}
        for name in fields_list or []:
            field = spec.fields.get(name)
            if field is not None and field.default is not None:
                out[name] = field.default(self) if callable(field.default) else field.default
        return out


def _ids(ids: Any) -> list[int]:
    if isinstance(ids, int) and not isinstance(ids, bool):
        return [ids]
    if not isinstance(ids, list | tuple):
        raise ProgrammingError(f"expected a list of record ids, got {ids!r}", builtin="TypeError")
    out = []
    for rid in ids:
        if not isinstance(rid, int) or isinstance(rid, bool):
            raise ProgrammingError(f"expected integer record ids, got {rid!r}", builtin="TypeError")
        out.append(rid)
    return out
