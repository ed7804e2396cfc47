"""``--shard I/N``: a stable split of the selected scenarios over N machines.

A scenario's shard is decided by its id alone (`runner.executor.selection.scenario_id`): the
first 8 bytes of the SHA-256 of the id, modulo N. So every machine running the same command
over the same checkout gets the same split whatever the order of files on disk; the N shards
together are the whole selection, with no scenario in two of them; and adding, removing or
renaming a scenario moves no other scenario to another shard. The price of that stability:
shards are as even as a hash makes them, not exactly even (with few scenarios, one shard can
get none: that is not an error).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from runner.executor.selection import Identified, scenario_ids

__all__ = ["Shard", "parse_shard", "shard_number", "take_shard"]

IdentifiedT = TypeVar("IdentifiedT", bound=Identified)


@dataclass(frozen=True)
class Shard:
    """Shard `index` of `count`, both counted from 1 (``--shard 2/3``)."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """``"2/3"`` to ``Shard(2, 3)``.

    Raises:
        ValueError: not two whole numbers I/N with 1 <= I <= N; the message says why.
    """
    index_text, slash, count_text = text.strip().partition("/")
    try:
        if not slash:
            raise ValueError
        index, count = int(index_text), int(count_text)
    except ValueError:
        raise ValueError(f"expected I/N such as 2/3, found {text!r}") from None
    if count < 1:
        raise ValueError(f"expected N (the number of shards) of 1 or more, found {text!r}")
    if not 1 <= index <= count:
        raise ValueError(f"expected I from 1 to {count} (shards count from 1), found {text!r}")
    return Shard(index, count)


def shard_number(scenario_id: str, count: int) -> int:
    """The shard (from 1) of the scenario with this id, among `count` shards."""
    digest = hashlib.sha256(scenario_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def take_shard(scenarios: Sequence[IdentifiedT], shard: Shard) -> list[IdentifiedT]:
    """The scenarios of `shard`, in their given order."""
    ids = scenario_ids(scenarios)
    return [
        s
        for s, i in zip(scenarios, ids, strict=True)
        if shard_number(i, shard.count) == shard.index
    ]
