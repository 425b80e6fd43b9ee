"""The dependency direction (the import-linter contract of pyproject.toml), ledger_tools running with nothing but cryptography,
and a product that states its rules itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.standalone import run_standalone

ROOT = Path(__file__).resolve().parent.parent


def test_the_import_contracts_hold():
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint_imports), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_ledger_tools_runs_with_only_cryptography_on_the_path(tmp_path):
    """A regulator's machine: the standard library, cryptography (with its own cffi), and ledger_tools."""
    script = """
import sys
import ledger_tools as lt
s = lt.generate_signer("regulator.test/log")
leaves = [lt.event_leaf_hash("id", v, "topic", b"state") for v in range(1, 6)]
root = lt.root_from_leaf_hashes(leaves)
note = lt.sign_checkpoint(lt.Checkpoint(s.name, 5, root), s)
cp = lt.open_checkpoint(note, lt.Verifier.parse(str(s.verifier)))
proof = lt.inclusion_proof(3, 5, lambda a, b: lt.root_from_leaf_hashes(leaves[a:b]))
lt.verify_inclusion(3, 5, leaves[3], proof, cp.root)
ours = {"domain", "ledger", "workers", "govledger", "eventsourcing", "psycopg", "typer", "rich", "pydantic", "yoyo"}
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ours)
assert not loaded, loaded
print("standalone ok")
"""
    result = run_standalone(tmp_path, ["-c", script])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "standalone ok"


def test_with_ci_set_an_unreachable_postgresql_fails_the_run_instead_of_skipping(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "CI": "true", "GOVLEDGER_TEST_PG": "postgresql://postgres@127.0.0.1:9"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:xdist", "-p", "no:cacheprovider", "-q",
         "tests/ledger/test_append_only.py::test_truncate_fails_on_postgresql"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "unreachable and CI=true" in result.stdout
    assert "skipped" not in result.stdout.splitlines()[-1]


def test_ledger_tools_is_strictly_typed():
    mypy = Path(sys.executable).parent / "mypy"
    result = subprocess.run([str(mypy), "--strict", "--no-incremental", "ledger_tools"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ledger_tools_builds_as_a_package_of_its_own_that_needs_only_cryptography(tmp_path):
    import shutil
    import zipfile

    source = tmp_path / "src"
    shutil.copytree(ROOT / "ledger_tools", source, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                             str(tmp_path / "dist"), str(source)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert {n.split("/")[0] for n in names} == {"ledger_tools", wheel.name.split("-")[0] + "-" + wheel.name.split("-")[1] + ".dist-info"}
    assert [line for line in metadata.splitlines() if line.startswith("Requires-Dist")] == ["Requires-Dist: cryptography>=42"]


def test_no_unused_or_undefined_names():
    ruff = Path(sys.executable).parent / "ruff"
    result = subprocess.run([str(ruff), "check", "--select", "F", "--exclude", ".venv", "."], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_product_never_cites_the_teams_design_or_style_pages():
    """README, docs, code and API text state each rule themselves: the team's own pages do not ship with the product."""
    import os
    import re

    skipped = {".git", ".venv", "tests", "govledger-data", "build", "dist", "__pycache__", ".pytest_cache"}
    cited = []
    for folder, subfolders, files in os.walk(ROOT):
        subfolders[:] = [d for d in subfolders if d not in skipped and not d.endswith(".egg-info")]
        for name in files:
            path = Path(folder) / name
            if path.suffix not in (".py", ".md", ".toml", ".json", ".txt", ".cfg") and name != "Makefile":
                continue
            for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
                if re.search(r"DESIGN(\.md)?\s*§|DESIGN\.md|STYLE\.md", line):
                    cited.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert cited == [], "state the rule itself instead:\n" + "\n".join(cited)
