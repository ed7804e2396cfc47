"""Writing report files atomically: a temporary file in the same folder, then `os.replace`.

The file gets the mode any new file gets from the user's umask (0644 under the usual 022), not
the 0600 of a temporary file: a CI job that uploads reports as another user can read them.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

__all__ = ["write_atomically"]


def write_atomically(path: str | os.PathLike[str], data: bytes | Iterable[bytes]) -> None:
    """Write `data` (bytes, or pieces of them written one after the other, so that a large
    report never sits whole in memory) to `path` so that readers see the old file or the new
    one, never a part.

    Raises:
        OSError: the folder does not exist or cannot be written.
    """
    target = Path(path)
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as file:
            for piece in (data,) if isinstance(data, bytes) else data:
                file.write(piece)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process's umask (reading it means setting it: set it straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
