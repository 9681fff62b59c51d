"""The [mapping] of a site applied to an Arrow IPC payload: columns renamed and scaled, site and machine columns
from the topic, key or config, timestamps made epoch milliseconds; the result is a contract Arrow stream.

A gateway sending Arrow IPC has one column per field; the signals are the columns other than site, machine,
timestamp and seq (or the children of a struct column named by `signals_field`). Per machine class overrides are
for JSON gateways: an Arrow payload holding a machine whose class overrides the mapping is refused, never read with
the wrong rules.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from andon.readings import Reason, parse_ts
from andon.wire.arrow import encode_arrow
from andon.wire.mapping import MappingRefusal


def _refuse(reason: Reason, detail: str) -> MappingRefusal:
    return MappingRefusal(reason, detail)


def _id_column(table: pa.Table, value: str | None, field: str) -> pa.Array:
    if value is not None:
        return pa.array([value] * table.num_rows, pa.string())
    if field not in table.column_names:
        raise _refuse(Reason.SCHEMA, f"no column {field!r}")
    return table.column(field).combine_chunks()


def _ts_column(table: pa.Table, name: str, ts_format: str) -> pa.Array:
    if name not in table.column_names:
        raise _refuse(Reason.SCHEMA, f"no timestamp column {name!r}")
    col = table.column(name).combine_chunks()
    if pa.types.is_timestamp(col.type):
        return col
    if ts_format == "rfc3339":
        if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
            raise _refuse(Reason.BAD_TIMESTAMP, f"column {name!r} holds {col.type}, not RFC 3339 strings")
        parsed = [parse_ts(v) if v is not None else None for v in col.to_pylist()]
        if any(p is None for p in parsed):
            raise _refuse(Reason.BAD_TIMESTAMP, f"column {name!r} holds a value that is not RFC 3339 with offset")
        return pa.array(parsed, pa.int64())
    if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
        raise _refuse(Reason.BAD_TIMESTAMP, f"column {name!r} holds {col.type}, not {ts_format} numbers")
    if ts_format == "epoch_ms":
        return col
    values = col.to_numpy(zero_copy_only=False).astype(np.float64)
    if not np.isfinite(values).all():
        raise _refuse(Reason.BAD_TIMESTAMP, f"column {name!r} holds a value that is not a finite number")
    return pa.array(np.rint(values * 1000).astype(np.int64))  # epoch_s: nearest millisecond


def map_arrow(raw: bytes, reader, site: str | None, machine: str | None) -> bytes:
    """A gateway's Arrow IPC payload as a contract Arrow IPC stream (raises MappingRefusal)."""
    try:
        table = pa.ipc.open_stream(raw).read_all()
        table.validate(full=True)
    except (pa.ArrowException, OSError, UnicodeDecodeError) as exc:
        raise _refuse(Reason.MALFORMED, f"not an Arrow IPC stream: {exc}") from None
    if reader.profile == "umh":
        raise _refuse(Reason.SCHEMA, "UMH _historian payloads are JSON, not Arrow IPC")
    machines = _id_column(table, machine, reader.machine_field)
    if reader.machine_rules and set(pc.unique(machines).to_pylist()) & set(reader.machine_rules):
        raise _refuse(Reason.SCHEMA, "an Arrow payload holds a machine whose class overrides the [mapping]; "
                                     "per class mappings are read from JSON payloads only")
    rules = reader.rules
    names: list[str] = ["site", "machine", "ts"]
    columns: list[pa.Array] = [_id_column(table, site, reader.site_field), machines,
                               _ts_column(table, rules.ts_field, rules.ts_format)]
    if "seq" in table.column_names:
        names.append("seq")
        columns.append(table.column("seq").combine_chunks())
    if rules.signals_field is not None and rules.signals_field in table.column_names:
        struct = table.column(rules.signals_field).combine_chunks()
        if not pa.types.is_struct(struct.type):
            raise _refuse(Reason.SCHEMA, f"column {rules.signals_field!r} is not a struct of signals")
        signals = [(struct.type.field(k).name, struct.field(k)) for k in range(struct.type.num_fields)]
    else:
        skip = rules.skip | {reader.site_field, reader.machine_field}
        signals = [(n, table.column(n).combine_chunks()) for n in table.column_names if n not in skip]
    for name, col in signals:
        name = rules.rename.get(name, name)
        factor = rules.scale.get(name)
        if factor is not None and (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
            col = pc.multiply(col.cast(pa.float64()), pa.scalar(factor, pa.float64()))
        if name in names:
            raise _refuse(Reason.SCHEMA, f"two columns map to {name!r}")
        names.append(name)
        columns.append(col)
    return encode_arrow(pa.table(columns, names=names))
