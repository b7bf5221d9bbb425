"""One virtual environment per contender group, created once and reused.

They live in $BENCH_VENVS (default: .bench-venvs/ in the checkout, git-ignored).
An environment is rebuilt when its pinned requirements change; "ours" gets
the checkout reinstalled (non-editable, C accelerator built when a compiler
is present) on every run, so the numbers are those of the working tree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from bench.contenders import ENVIRONMENTS, OURS
from bench.procs import ROOT

PIP = ["-m", "pip", "--disable-pip-version-check", "--quiet"]


def home() -> Path:
    return Path(os.environ.get("BENCH_VENVS", ROOT / ".bench-venvs"))


def python(env: str) -> Path:
    return home() / env / "bin" / "python"


def _pip(env: str, *args: str) -> None:
    done = subprocess.run(
        [str(python(env)), *PIP, *args], capture_output=True, text=True, check=False
    )
    if done.returncode:
        sys.stderr.write(done.stdout + done.stderr)
        raise RuntimeError(f"pip failed in {home() / env}: pip {' '.join(args)}")


def ensure(env: str) -> None:
    """Create (or rebuild) ``env`` unless it already holds exactly its requirements."""
    path = home() / env
    requirements = ENVIRONMENTS[env]
    stamp = path / "REQUIREMENTS.txt"
    wanted = "\n".join(requirements) + "\n"
    if not (stamp.exists() and stamp.read_text() == wanted and python(env).exists()):
        print(f"[venvs] creating {path}: {' '.join(requirements)}", file=sys.stderr)
        shutil.rmtree(path, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
        # The checkout too, the first time, so pip installs its dependencies.
        _pip(env, "install", *requirements, *([str(ROOT)] if env == OURS else []))
        stamp.write_text(wanted)
    elif env == OURS:
        print(f"[venvs] installing the checkout {ROOT} into {path}", file=sys.stderr)
        _pip(env, "install", "--no-deps", "--force-reinstall", str(ROOT))


def freeze(env: str) -> list[str]:
    """The installed distributions, for the results' record."""
    out = subprocess.run(
        [str(python(env)), *PIP, "freeze"], check=True, capture_output=True, text=True
    ).stdout
    return out.splitlines()


def checkout() -> str:
    """The commit measured, marked ``+dirty`` when the working tree has changes."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return head + ("+dirty" if git("status", "--porcelain", "--untracked-files=no", "src") else "")


def ensure_all(envs: list[str]) -> dict[str, list[str]]:
    for env in envs:
        ensure(env)
    return {env: freeze(env) for env in envs}
