"""Peers in subprocesses: start one, read its output line by line, wait for a line.

Tests synchronise with a peer through what it prints ("listening on …"), never
by sleeping: :meth:`PeerProcess.wait_for` blocks until a line matches, and
fails the test if the process ends or :data:`PEER_TIMEOUT` passes first.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

import anyio.to_thread
import pytest

import wsproto

from .conftest import PEER_TIMEOUT

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

# Runs a module as ``python -m`` would, after printing which wsproto it imports:
# the ASGI servers must run on this project's core, not on wsproto 1.x.
ON_OUR_CORE = (
    "import runpy, sys, wsproto; "
    "print('wsproto', wsproto.__version__, wsproto.__file__, flush=True); "
    "del sys.argv[0]; "
    "runpy.run_module(sys.argv[0], run_name='__main__', alter_sys=True)"
)


class PeerProcess:
    """A subprocess whose output (stdout and stderr together) a thread collects."""

    def __init__(
        self,
        args: Sequence[str],
        *,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        pass_fds: Sequence[int] = (),
    ) -> None:
        self.args = list(args)
        self.lines: list[str] = []
        self._ended = False
        self._changed = threading.Condition()
        self.popen = subprocess.Popen(
            self.args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=cwd,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            pass_fds=pass_fds,
        )
        self._reader = threading.Thread(target=self._read, name=f"{args[0]} output", daemon=True)
        self._reader.start()

    @classmethod
    def python_module(cls, module: str, *args: str, cwd: Path | None = None) -> PeerProcess:
        """``python -m module args`` with this interpreter, printing its wsproto first."""
        return cls([sys.executable, "-c", ON_OUR_CORE, module, *args], cwd=cwd)

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    def mark(self) -> int:
        """Where the output is now: pass it to :meth:`wait_for` to see only later lines."""
        with self._changed:
            return len(self.lines)

    def wait_for(self, pattern: str, start: int = 0) -> re.Match[str]:
        """The first line from ``start`` on that matches ``pattern`` (``re.search``)."""
        compiled = re.compile(pattern)
        checked = start
        with self._changed:
            while True:
                for line in self.lines[checked:]:
                    if match := compiled.search(line):
                        return match
                checked = len(self.lines)
                if self._ended:
                    pytest.fail(f"{self.args[:4]} ended before printing {pattern!r}: {self.lines}")
                if not self._changed.wait(PEER_TIMEOUT):
                    pytest.fail(f"{self.args[:4]} did not print {pattern!r}: {self.lines}")

    async def await_line(self, pattern: str, start: int = 0) -> re.Match[str]:
        """:meth:`wait_for` without blocking the event loop."""
        return await anyio.to_thread.run_sync(self.wait_for, pattern, start)

    def check_our_core(self) -> None:
        """Check that the process imported this project's wsproto (see :data:`ON_OUR_CORE`)."""
        match = self.wait_for(r"^wsproto (\S+) (.+)$")
        assert match[1] == wsproto.__version__ == "2.0.0", match[0]
        assert Path(match[2]) == Path(wsproto.__file__), match[0]

    def stop(self) -> None:
        """Terminate the process (SIGTERM), wait for it, and fail if it did not stop."""
        if self.popen.poll() is None:
            self.popen.terminate()
        try:
            self.popen.wait(PEER_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
            pytest.fail(f"{self.args[:4]} ignored SIGTERM: {self.lines}")
        finally:
            self._reader.join(PEER_TIMEOUT)
            assert self.popen.stdout is not None
            self.popen.stdout.close()
