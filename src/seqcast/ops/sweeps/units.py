"""One unit of a sweep: (ticker, model, config, seed, fold), the task that carries it to
a worker, what the worker hands back, and the code version both must share.

seqcast.jobs.sweep_units gives a unit its params and id, and runs it.
"""

import hashlib
import json
import os
import platform
import sys
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd

import seqcast


@dataclass(frozen=True, order=True)
class Unit:
    ticker: str
    model: str
    config: str  # canonical JSON of the model's keys (seqcast.ops.sweeps.space.config_text)
    seed: int
    origin: str  # a fold of sweep.origins, as written there

    @classmethod
    def of_row(cls, row: dict[str, Any]) -> "Unit":
        """The unit of a results row."""
        return cls(row["ticker"], row["model"], row["config"], int(row["seed"]), row["origin"])

    @property
    def label(self) -> str:
        """How progress lines and run names show it: AAPL gru hidden_size:32 seed 42 fold 1."""
        config = self.config.strip("{}").replace('"', "") or "defaults"
        return f"{self.ticker} {self.model} {config} seed {self.seed} fold {self.origin}"


@dataclass(frozen=True)
class Task:
    """A unit with what a worker needs to run it, self-contained so that it pickles."""

    unit: Unit
    unit_id: str
    params: dict[str, Any]  # params.yaml with the unit's config, seed and fold applied
    features: pd.DataFrame  # the ticker's feature table
    code: str  # the driver's code version: a worker running other code refuses the unit
    tracking: dict[str, str] = field(default_factory=dict)  # workers log to a server: uri, parent


@dataclass(frozen=True)
class Outcome:
    row: dict[str, Any]  # one row of the results table: deterministic
    ran_on: str  # the node (Ray) or host and process that ran it
    seconds: float  # wall time of the fold
    cpu_seconds: float


@cache
def code_version() -> str:
    """A hash of every Python file of the seqcast package: the code a unit ran."""
    root = Path(seqcast.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def data_digest(features: pd.DataFrame) -> str:
    """An md5 of a feature table: its dates, columns and values."""
    digest = hashlib.md5(json.dumps(list(map(str, features.columns))).encode())
    digest.update(pd.util.hash_pandas_object(features, index=True).to_numpy().tobytes())
    return digest.hexdigest()


def node_name() -> str:
    """ray:<the first 12 digits of the node id> in a Ray worker, else host:pid."""
    ray = sys.modules.get("ray")  # imported by a Ray worker, never here
    if ray is not None and ray.is_initialized():
        return f"ray:{ray.get_runtime_context().get_node_id()[:12]}"
    return f"{platform.node()}:{os.getpid()}"
