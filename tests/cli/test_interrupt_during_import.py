"""A Ctrl-C that comes while a module is being imported is taken once the import is over.

Raised inside an import, the interrupt broke C extensions' start: pydantic_core's import of
datetime, interrupted, made pyo3 panic (exit 1 and a Rust message, not 130), now and then in
tests/cli/test_interrupts.py.
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

import pytest

from runner.cli import _Interrupts

MODULE = """
import signal, time
signal.raise_signal(signal.SIGINT)  # as if Ctrl-C came now, in the middle of the import
steps = 0
until = time.monotonic() + 0.1
while time.monotonic() < until:  # Python code runs on: the handler is called in here
    steps += 1
done = True
"""


def test_an_interrupt_during_an_import_is_raised_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = "wsrun_test_interrupted_import"
    (tmp_path / f"{name}.py").write_text(MODULE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    interrupts = _Interrupts()
    assert interrupts.install()
    imported = False
    try:
        with pytest.raises(KeyboardInterrupt):
            importlib.import_module(name)
            imported = True
            until = time.monotonic() + 5
            while time.monotonic() < until:  # the interrupt, delivered again, lands here
                time.sleep(0.001)
    finally:
        interrupts.shielded = True  # no second delivery after the test
        interrupts.restore()
        module = sys.modules.pop(name, None)
    assert imported and module is not None and module.done
    assert interrupts.count == 1
