"""The expectation steps beyond `expect` and `expect_none`: expect_all, expect_sequence, poll.

Defined on the bases of `steps.py`, which imports this module before it builds the union.
"""

from __future__ import annotations

__all__: list[str] = []
