"""What every test process shares: the Python processes the tests start keep their bytecode.

Many tests run wsrun as a subprocess (`python -m runner ...`), the way users do. Where the
environment sets ``PYTHONDONTWRITEBYTECODE`` (some CI images and sandboxes do), each of those
processes compiled the whole package from source again, about 50 ms each on the project's 2-CPU
machine. The tests' subprocesses instead write and reuse their bytecode in one folder of their
own (``PYTHONPYCACHEPREFIX``), so no ``__pycache__`` appears next to the sources or in a test's
files, and the folder is removed when the session ends. The pytest process itself is unchanged.
"""

from __future__ import annotations

import os
import shutil
import tempfile

_PYCACHE = tempfile.mkdtemp(prefix="wsrun-tests-pycache-")
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
os.environ["PYTHONPYCACHEPREFIX"] = _PYCACHE


def pytest_unconfigure() -> None:
    """The subprocesses' bytecode goes when the session ends."""
    shutil.rmtree(_PYCACHE, ignore_errors=True)
