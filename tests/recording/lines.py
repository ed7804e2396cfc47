"""A `wsrun` subprocess whose output is read line by line, with timeouts."""

from __future__ import annotations

import contextlib
import queue
import subprocess
import sys
import threading
import time

from tests.support import timeout


class Wsrun:
    """`python3 -m runner ARGS` with pipes; `wait_for` reads its stdout until a line matches."""

    def __init__(self, *args: str, stdin: bool = False) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "runner", *args],
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
        )  # fmt: skip
        self.lines: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))

    def wait_for(self, text: str, within: float = timeout(10)) -> str:
        deadline = time.monotonic() + within
        while True:
            try:
                line = self._queue.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no line with {text!r}; output: {self.lines}") from None
            self.lines.append(line)
            if text in line:
                return line

    def type(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text)
        self.proc.stdin.flush()

    def stop(self, wait: float = 0.0) -> int:
        """End it (SIGTERM, then SIGKILL) unless it ends within `wait` s; its exit code."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(wait)
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            code = self.proc.wait(timeout(10))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait(timeout(10))
        self._reader.join(timeout(5))
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()
        return code

    def rest(self) -> list[str]:
        while not self._queue.empty():
            self.lines.append(self._queue.get())
        return self.lines
