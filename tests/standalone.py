"""Run Python as a regulator would: with nothing importable but the standard library, cryptography and ledger_tools."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _origin(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.origin is not None
    return Path(spec.origin)


def run_standalone(tmp_path: Path, args: list[str]) -> subprocess.CompletedProcess[str]:
    """`python -I -S ARGS` whose path holds only ledger_tools and cryptography (with its cffi and pycparser)."""
    site = tmp_path / "regulator-site"
    if not site.exists():
        site.mkdir()
        (site / "ledger_tools").symlink_to(ROOT / "ledger_tools")
        for dep in ("cryptography", "cffi", "pycparser"):
            (site / dep).symlink_to(_origin(dep).parent)
        backend = _origin("_cffi_backend")
        (site / backend.name).symlink_to(backend)
    bootstrap = f"import sys, runpy; sys.path[:0] = [{str(site)!r}]; "
    if args[0] == "-c":
        command = [sys.executable, "-I", "-S", "-c", bootstrap + f"exec({args[1]!r})"]
    else:  # -m MODULE ARGS…
        command = [sys.executable, "-I", "-S", "-c",
                   bootstrap + f"sys.argv = {[args[1], *args[2:]]!r}; runpy.run_module({args[1]!r}, run_name='__main__')"]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)
