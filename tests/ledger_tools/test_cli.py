"""`ledger-verify` as a regulator runs it: a verdict on success, one line and a non-zero exit on anything else."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .bundles import SIGNER, bundle_files, write

LEDGER_VERIFY = Path(sys.executable).parent / "ledger-verify"


def ledger_verify(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LEDGER_VERIFY), *args], capture_output=True, text=True, cwd=cwd, timeout=60,
                          env={**os.environ, "PYTHONIOENCODING": "utf-8"})


@pytest.fixture
def regulator(tmp_path: Path) -> Path:
    (tmp_path / "key.vkey").write_text(f"{SIGNER.verifier}\n")
    (tmp_path / "garbage.tar.gz").write_bytes(os.urandom(4096))
    (tmp_path / "garbage.zip").write_bytes(b"PK\x03\x04" + os.urandom(4096))
    (tmp_path / "garbage.txt").write_bytes(b"\xff\xfe not a bundle \x00")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "manifest.json").write_bytes(b'{"format": "govledger-bundle/2", "origin": 1e999}')
    (tmp_path / "bad.vkey").write_bytes(b"\xff\x00garbage+key")
    write(tmp_path / "good", bundle_files())
    return tmp_path


@pytest.mark.parametrize("args", [
    ["garbage.tar.gz", "--trusted-key", "key.vkey"],
    ["garbage.zip", "--trusted-key", "key.vkey"],
    ["garbage.txt", "--trusted-key", "key.vkey"],
    ["junk", "--trusted-key", "key.vkey"],
    ["absent.tar.gz", "--trusted-key", "key.vkey"],
    ["good", "--trusted-key", "bad.vkey"],
    ["good", "--trusted-key", "absent.vkey"],
    ["good", "--trusted-key", "key.vkey", "--held-checkpoint", "garbage.txt"],
    ["good", "--trusted-key", "key.vkey", "--max-bytes", "abc"],
    ["good", "--trusted-key", "key.vkey", "--max-bytes", "-1"],
    ["good"],
    ["good", "--trusted-key", "key.vkey", "--insecure-trust-bundle-key"],
    ["--no-such-option"],
    [],
])
def test_ledger_verify_on_garbage_prints_one_line_and_exits_non_zero(regulator, args):
    result = ledger_verify(*args, cwd=regulator)
    assert result.returncode in (1, 2), result
    assert result.stdout == "" and len(result.stderr.splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr


def test_ledger_verify_on_a_good_bundle_prints_its_verdict(regulator):
    result = ledger_verify("good", "--trusted-key", "key.vkey", cwd=regulator)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK: 4 events: every position from 1 to 4, none missing")
