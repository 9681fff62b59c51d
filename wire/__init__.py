"""Wire formats of telemetry readings: how bytes from a gateway become andon's readings.

- `reference`: the plain, obviously correct decoder; its docstring is the contract, and every fast path is held
  equal to it by Hypothesis tests.
- `decoder`: the batch JSON decoder (`BatchDecoder`) with its fast paths: the numba byte scanner (`json_scan`, its
  named pieces in `scan_pieces`, its word-at-a-time primitives in `scan_words`) and the typed msgspec path
  (`json_typed`), in front of the general msgspec path.
- `arrow`: Arrow IPC record batches, many readings per message.
- `mapping` (and `mapping_arrow`): each site's [mapping] profile (umh, custom), applied once before any decoder.

The domain types these produce (Reading, ReadingBatch, InvalidReading, Reason, Registry) live in `andon.readings`.
"""
