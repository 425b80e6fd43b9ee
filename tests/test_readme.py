"""README.md's tour, run line by line as written on a new demo store, so the README cannot drift from the product."""

from __future__ import annotations

import os
import re
import socket
import stat
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LONG_RUNNING = ("govledger workers", "govledger serve")


def tour_blocks() -> list[list[str]]:
    """The shell blocks of the README's "A tour" section, each a list of commands (a trailing backslash joins lines)."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## A tour"):]
    section = section[:section.index("\n## ")]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    return [[line for line in block.replace("\\\n", " ").splitlines() if line.strip()] for block in blocks]


def block_with(word: str) -> list[str]:
    (block,) = [b for b in tour_blocks() if any(word in line for line in b)]
    return block


@dataclass
class Shell:
    """Runs README lines one at a time in `cwd`; assignments and exports carry over to the later lines."""

    cwd: Path
    ids: dict[str, str] = field(default_factory=dict)
    assignments: list[str] = field(default_factory=list)

    def run(self, line: str) -> subprocess.CompletedProcess[str]:
        if re.match(r"(export )?[A-Z_]+=", line):
            self.assignments.append(line)
        for placeholder in ("USER_ID", "DATASET_ID", "JOB_ID", "DEPLOYMENT_ID", "CONFIG_ID", "ID"):  # \bID\b is not inside the others
            if re.search(rf"\b{placeholder}\b", line.split("#")[0]):
                line = re.sub(rf"\b{placeholder}\b", self.ids[placeholder], line)
        env = {k: v for k, v in os.environ.items() if not k.startswith("GOVLEDGER_")}
        env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
        result = subprocess.run(["bash", "-c", "\n".join(["set -eo pipefail", *self.assignments, line])], cwd=self.cwd,
                                env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, f"README line failed: {line}\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
        assert "Traceback" not in result.stderr, result.stderr
        return result


@pytest.fixture(scope="module")
def toured(tmp_path_factory: pytest.TempPathFactory) -> tuple[Shell, str]:
    """A new directory after every line of the tour's main block; also what the demo printed."""
    shell = Shell(tmp_path_factory.mktemp("tour"))
    demo_output = ""
    for line in block_with("govledger demo"):
        result = shell.run(line)
        if line.startswith("govledger demo"):
            demo_output = result.stdout + result.stderr
            shell.ids["ID"] = re.search(r"govledger replay (\S+)", result.stdout).group(1)
            shell.ids["USER_ID"] = re.search(r"govledger erase-subject (\S+)", result.stdout).group(1)
            shell.ids["DATASET_ID"] = re.search(r"govledger train --dataset (\S+)", result.stdout).group(1)
            shell.ids["JOB_ID"] = re.search(r"govledger jobs show (\S+)", result.stdout).group(1)
            shell.ids["DEPLOYMENT_ID"] = re.search(r"govledger deployments show (\S+)", result.stdout).group(1)
            shell.ids["CONFIG_ID"] = re.search(r"govledger routing show (\S+)", result.stdout).group(1)
    return shell, demo_output


def test_the_readme_tour_runs_as_written_on_a_new_demo_store(toured):
    shell, _ = toured
    assert (shell.cwd / "first-1000.tar.gz").is_file() and (shell.cwd / "held.note").read_text().startswith("govledger.local/ledger\n")
    assert shell.run("govledger verify").stdout.startswith("OK: ")
    assert all(line.startswith(LONG_RUNNING) for line in block_with("govledger workers"))


def test_the_readme_training_tour_runs_as_written_as_the_demos_data_scientist(toured):
    shell, _ = toured
    results = [shell.run(line) for line in block_with("govledger train")]
    assert "succeeded" in results[-1].stdout
    assert "queued" in results[-2].stdout


def test_the_readme_deploy_tour_runs_as_written_as_the_demos_manager(toured):
    shell, demo_output = toured
    listed, shown, history, rollback, rotated = [shell.run(line) for line in block_with("govledger deployments list")][1:]
    assert "active" in listed.stdout and "medium" in listed.stdout
    assert "serving at /v1/predict" in shown.stdout
    assert "revision 1" in history.stdout and "thin credit files" in history.stdout
    assert "revision 2" in rollback.stdout and "rollback to revision 1" in rollback.stdout
    key = rotated.stdout.split("keep it secret): ")[1].split()[0]
    assert key.startswith("grk_") and key not in demo_output
    routing_key = (shell.cwd / "govledger-data" / "demo-routing.key").read_text().strip()
    assert routing_key not in demo_output and stat.S_IMODE((shell.cwd / "govledger-data" / "demo-routing.key").stat().st_mode) == 0o600


def test_the_demo_leaves_roots_api_key_in_a_file_only_its_owner_can_read_and_never_prints_it(toured):
    shell, demo_output = toured
    key_file = shell.cwd / "govledger-data" / "demo-admin.apikey"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text().strip()
    assert key.startswith("glk_") and key not in demo_output
    assert str(key_file.relative_to(shell.cwd)) in demo_output


def test_the_readme_http_tour_answers_with_the_demos_admin_key(toured):
    shell, _ = toured
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVLEDGER_")}
    server = subprocess.Popen([str(Path(sys.executable).parent / "govledger"), "serve", "--port", str(port)], cwd=shell.cwd,
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "the API did not come up"
                time.sleep(0.2)
        curls = 0
        for line in block_with("curl"):
            line = line.replace("localhost:8000", f"localhost:{port}")
            if line.startswith("curl"):
                line = line.replace("curl -s", "curl -s -w '\\n%{http_code}'", 1)
                curls += 1
            status = shell.run(line).stdout.rsplit("\n", 1)[-1]
            assert not line.startswith("curl") or status in ("200", "201"), f"{line}: HTTP {status}"
        assert curls == 6
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_a_store_of_your_own_gets_its_first_superadmin_as_the_readme_says(tmp_path):
    shell = Shell(tmp_path)
    results = [shell.run(line) for line in block_with("create-admin")]
    assert results[-1].stdout.splitlines()[-1].startswith("glk_")
    assert (tmp_path / "my-ledger" / "govledger.db").is_file()


def test_every_dependency_in_pyproject_has_its_reason_in_the_readme():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = [*project["dependencies"], *(d for group in project["optional-dependencies"].values() for d in group)]
    names = {re.match(r"[A-Za-z0-9_.-]+", d).group(0).lower() for d in declared}
    text = (ROOT / "README.md").read_text()
    table = next(part for part in text[text.index("## Dependencies"):].split("\n\n") if part.startswith("|"))
    explained = {re.sub(r"\[.*?\]", "", row.split("|")[1]).lower() for row in table.splitlines()[2:]}
    missing = sorted(n for n in names if not any(re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", cell) for cell in explained))
    assert missing == [], f"say in README.md why each is a dependency: {missing}"
