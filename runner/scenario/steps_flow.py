"""The flow steps: repeat and for_each (issue 16).

Defined on the bases of `steps.py`, which imports this module before it builds the union.
"""

from __future__ import annotations

__all__: list[str] = []
