"""andon.operators: numba kernels and the ShardProcessor API the dataflow glue drives."""

from __future__ import annotations

from andon.operators.kernels import warm_up
from andon.operators.oee import OeeFigures, oee
from andon.operators.shard import ShardOutput, ShardProcessor
from andon.operators.state import ShardState

__all__ = ["OeeFigures", "ShardOutput", "ShardProcessor", "ShardState", "oee", "warm_up"]
