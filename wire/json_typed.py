"""Fast path of the JSON batch decoder: typed structs (signal names known from the config) and column builds.

The whole batch is decoded at once into structs whose `signals` has one optional float field per known signal,
with the garbage collector paused; columns are then built one attribute at a time and checked with numpy. When the
batch holds anything this path does not take (a string timestamp, a bool or string value of a known signal, a
malformed message), it returns None and the general decoder takes the batch message by message.
"""

from __future__ import annotations

import gc
from collections.abc import Sequence
from itertools import repeat
from operator import attrgetter

import msgspec
import numpy as np


class FastDecoder:
    """Typed whole-batch JSON decoding into columns for one Registry's signals."""

    def __init__(self, signals: Sequence[str], index: dict[tuple[str, str], int]) -> None:
        # absent signals default to NaN and seq to -1, so columns fill without None checks; an explicit null
        # fails this path and the general decoder takes the batch
        fields = [(name, float, float("nan")) for name in signals]
        self._signals_type = msgspec.defstruct("TypedSignals", fields, forbid_unknown_fields=False)
        reading = msgspec.defstruct("TypedReading", [("site", str), ("machine", str), ("ts", int),
                                                     ("signals", self._signals_type), ("seq", int, -1)],
                                    forbid_unknown_fields=False)
        self._reading = reading
        self._flat = msgspec.json.Decoder(list[reading])
        self._nested = msgspec.json.Decoder(list[reading | list[reading]])
        self._getters = [attrgetter(name) for name in signals]
        self._n_signals = len(signals)
        by_site: dict[str, dict[str, int]] = {}
        for (site, machine), i in index.items():
            by_site.setdefault(site, {})[machine] = i
        self._by_site = by_site

    def decode(self, raws: Sequence[bytes]):
        """Columns (machine idx with -1 for unknown, ts, seq, values, message index) or None to fall back."""
        if not raws:
            return None
        enabled = gc.isenabled()
        gc.disable()
        try:
            joined = b"[" + b",".join(raws) + b"]"
            nested = False
            try:
                items = self._flat.decode(joined)
            except msgspec.ValidationError:
                nested = True  # some message is an array of readings
                try:
                    items = self._nested.decode(joined)
                except msgspec.DecodeError:
                    return None
            except msgspec.DecodeError:
                return None
            if len(items) != len(raws):
                return None  # a message held more than one JSON value: let the general path judge it
            reading_type = self._reading
            if not nested:
                readings = items
                msg_index = np.arange(len(items), dtype=np.int64)
            else:
                readings, owners = [], []
                for i, item in enumerate(items):
                    if type(item) is list and not item:
                        return None  # an empty array is refused by the general path, with its reason
                    if type(item) is reading_type:
                        readings.append(item)
                        owners.append(i)
                    else:
                        readings.extend(item)
                        owners.extend([i] * len(item))
                msg_index = np.asarray(owners, dtype=np.int64)
            n = len(readings)
            sites = list(map(attrgetter("site"), readings))
            machines = list(map(attrgetter("machine"), readings))
            first_site = sites[0] if n else None
            if n and sites.count(first_site) == n:
                lookup = self._by_site.get(first_site, {})
                machine = np.fromiter(map(lookup.get, machines, repeat(-1, n)), dtype=np.int64, count=n)
            else:
                by_site = self._by_site
                machine = np.fromiter((by_site.get(s, {}).get(m, -1) for s, m in zip(sites, machines, strict=True)),
                                      dtype=np.int64, count=n)
            ts = np.fromiter(map(attrgetter("ts"), readings), dtype=np.int64, count=n)
            seq = np.fromiter(map(attrgetter("seq"), readings), dtype=np.int64, count=n)
            sig = list(map(attrgetter("signals"), readings))
            values = np.empty((n, self._n_signals), dtype=np.float64)
            for j, get in enumerate(self._getters):
                values[:, j] = np.fromiter(map(get, sig), dtype=np.float64, count=n)
            return machine, ts, seq, values, msg_index, sites, machines
        finally:
            if enabled:
                gc.enable()
