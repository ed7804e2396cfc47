"""Writing report files atomically: a temporary file in the same folder, then `os.replace`.

The file gets the mode any new file gets from the user's umask (0644 under the usual 022), not
the 0600 of a temporary file: a CI job that uploads reports as another user can read them.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO

__all__ = ["write_atomically"]


def write_atomically(
    path: str | os.PathLike[str], data: bytes | Iterable[bytes | IO[bytes]]
) -> None:
    """Write `data` (bytes, or pieces of them written one after the other, so that a large
    report never sits whole in memory) to `path` so that readers see the old file or the new
    one, never a part. A piece may be a file (binary, open for reading, at the place to copy
    from): what it holds from there to its end is copied, by the kernel where it can
    (`os.sendfile`: no read into Python and write back).

    Raises:
        OSError: the folder does not exist or cannot be written.
    """
    target = Path(path)
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as file:
            for piece in (data,) if isinstance(data, bytes) else data:
                if isinstance(piece, bytes):
                    file.write(piece)
                else:
                    file.flush()  # what is before it goes first
                    _copy(piece, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


#: How many bytes a copy reads at once where the kernel cannot copy (`_copy`).
COPIED = 1 << 20


def _copy(source: IO[bytes], target: IO[bytes]) -> None:
    """`source` from its position to its end, appended to `target` (flushed: nothing of it in
    its buffer); `source`'s position is left anywhere. `os.sendfile` copies between files on
    Linux; elsewhere (or if it fails before copying anything) in blocks of `COPIED`."""
    source.flush()
    offset = start = source.tell()
    size = os.fstat(source.fileno()).st_size
    sendfile = getattr(os, "sendfile", None)
    try:
        while sendfile is not None and offset < size:
            sent = sendfile(target.fileno(), source.fileno(), offset, size - offset)
            if sent == 0:
                break
            offset += sent
    except OSError:
        if offset != start:  # copied in part: the error is a real one (a full disk...)
            raise
    if offset < size:  # the kernel copied none of it (or not all): the rest in blocks
        source.seek(offset)
        while block := source.read(COPIED):
            target.write(block)


def _umask() -> int:
    """The process's umask (reading it means setting it: set it straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
