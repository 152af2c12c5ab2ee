#!/usr/bin/env python3
"""Bootstrap: one command installs what is needed into .venv, then runs.

    python3 dev.py run [ARGS...]   open the console (demo stream by default)
    python3 dev.py test [ARGS...]  run the whole test suite
    python3 dev.py bench [ARGS...] run the benchmarks (bench/run.py)
    python3 dev.py bench bulk [ARGS...]  only the bulk-action one (bench/bulk.py)
    python3 dev.py lint            ruff, mypy and the import contracts (settings in pyproject.toml)

Only the Python standard library is used here, so a fresh machine with
Python 3.11+ needs nothing else. The venv is reinstalled when
pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".mentiondesk-installed"


def ensure_env(extra: str) -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py runs under any python3, to say which it needs
        sys.exit(f"dev.py: mentiondesk needs Python 3.11 or newer (this is {sys.version.split()[0]})")
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extra.encode()).hexdigest()
    if STAMP.exists() and STAMP.read_text().strip() == wanted:
        return
    if not PYTHON.exists():
        print("dev.py: creating .venv", file=sys.stderr)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print(f"dev.py: installing mentiondesk[{extra}] into .venv", file=sys.stderr)
    subprocess.run([str(PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "-e", f"{ROOT}[{extra}]"], check=True)
    STAMP.write_text(wanted)


# One environment for every command: switching extras would reinstall each time.
EXTRAS = "test,lint"


def lint() -> int:
    """Every check, each run even when an earlier one fails, so one run shows everything to fix."""
    checks = [
        ("ruff", [str(PYTHON), "-m", "ruff", "check", "."]),
        ("mypy", [str(PYTHON), "-m", "mypy"]),
        ("import contracts", [str(PYTHON), "-m", "pytest", "-q", "-p", "no:cacheprovider",
                              "tests/test_import_contracts.py"]),
    ]
    failed = [name for name, command in checks if subprocess.call(command, cwd=ROOT) != 0]
    print(f"dev.py lint: {'failed: ' + ', '.join(failed) if failed else 'all clean'}", file=sys.stderr)
    return 1 if failed else 0


def main() -> int:
    command, *rest = sys.argv[1:] or ["run"]
    if command not in ("run", "test", "bench", "lint"):
        print(__doc__, file=sys.stderr)
        return 2
    ensure_env(EXTRAS)
    if command == "run":
        return subprocess.call([str(BIN / "mentiondesk"), *rest])
    if command == "test":
        return subprocess.call([str(PYTHON), "-m", "pytest", *rest], cwd=ROOT)
    if command == "bench":
        script = "bulk.py" if rest[:1] == ["bulk"] else "run.py"
        return subprocess.call([str(PYTHON), str(ROOT / "bench" / script), *rest[script == "bulk.py":]], cwd=ROOT)
    return lint()


if __name__ == "__main__":
    sys.exit(main())
