"""A Ctrl-C is raised where Python code can take it: not inside an import or pydantic (it is
delivered again once they are over), and not lost where Python can only report it.

Raised inside an import, the interrupt broke C extensions' start: pydantic_core's import of
datetime, interrupted, made pyo3 panic (exit 1 and a Rust message, not 130); raised inside a
validator build, it was lost without a word (exit 130, no message); raised in a callback, it was
printed as "Exception ignored" with its traceback, and taken only 2.5 s later. Each happened now
and then in tests/cli/test_interrupts.py.
"""

from __future__ import annotations

import importlib
import math
import signal
import sys
import time
from pathlib import Path
from typing import Annotated

import pytest
from pydantic import AfterValidator, TypeAdapter

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


def test_an_interrupt_during_an_import_is_raised_after_it(tmp_path: Path) -> None:
    name = "wsrun_test_interrupted_import"
    (tmp_path / f"{name}.py").write_text(MODULE, encoding="utf-8")
    # Not monkeypatch.syspath_prepend: it calls pkg_resources, which a test dependency
    # (kosoku) shadows with a shim that lacks what it calls.
    sys.path.insert(0, str(tmp_path))
    importlib.invalidate_caches()
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
        sys.path.remove(str(tmp_path))
        module = sys.modules.pop(name, None)
    assert imported and module is not None and module.done
    assert interrupts.count == 1


class _RaisesSigintOnDelete:
    """A Ctrl-C that lands in a `__del__`: Python can only report it ("Exception ignored")."""

    def __del__(self) -> None:
        signal.raise_signal(signal.SIGINT)
        until = time.monotonic() + 0.05
        while time.monotonic() < until:  # the handler is called in here
            pass


def test_an_interrupt_python_could_only_report_is_delivered_again_at_once(
    capfd: pytest.CaptureFixture[str],
) -> None:
    hook = sys.unraisablehook
    interrupts = _Interrupts()
    assert interrupts.install()
    took = math.inf
    try:
        started = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            dropped = _RaisesSigintOnDelete()
            del dropped  # its __del__ runs now
            until = time.monotonic() + 5
            while time.monotonic() < until:
                time.sleep(0.001)
        took = time.monotonic() - started
    finally:
        interrupts.shielded = True
        interrupts.restore()
    assert sys.unraisablehook is hook
    assert took < interrupts.RAISE_AGAIN_AFTER / 2  # not the fallback's 2.5 s
    assert interrupts.count == 1
    err = capfd.readouterr().err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err


def _interrupted_in_a_validator(value: int) -> int:
    signal.raise_signal(signal.SIGINT)
    until = time.monotonic() + 0.05
    while time.monotonic() < until:  # the handler is called in here, under pydantic's frames
        pass
    return value + 1


def test_an_interrupt_inside_pydantic_is_raised_after_it_returns() -> None:
    adapter = TypeAdapter(Annotated[int, AfterValidator(_interrupted_in_a_validator)])
    interrupts = _Interrupts()
    assert interrupts.install()
    validated = None
    try:
        with pytest.raises(KeyboardInterrupt):
            validated = adapter.validate_python(1)
            until = time.monotonic() + 5
            while time.monotonic() < until:
                time.sleep(0.001)
    finally:
        interrupts.shielded = True
        interrupts.restore()
    assert validated == 2
    assert interrupts.count == 1
