"""Two API processes (`govledger serve`) and one `govledger workers` against one PostgreSQL behave as one service:
a key issued through one authenticates on the other, concurrent commands through both are each recorded once
(or refused as a conflict, never lost), every read agrees, and the ledger verifies. Each process logs in with the
least privilege production gives it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.ledger.helpers import login_url

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(env: dict[str, str], cwd: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "govledger.cli", *args], env=env, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def call(base: str, method: str, path: str, key: str, body: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _wait_ready(base: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(base + "/readyz", timeout=1):
                return
        except OSError:
            assert time.monotonic() < deadline and process.poll() is None, process.stderr.read() if process.stderr else ""
            time.sleep(0.2)


def test_two_api_processes_on_one_postgresql_behave_as_one_service(pg_url, tmp_path):
    # As production runs them: the API processes log in as the service role, the workers as the sealer role.
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVLEDGER_")}
    env.update(GOVLEDGER_DATABASE_URL=login_url(pg_url, "service"), GOVLEDGER_DATA_DIR=str(tmp_path / "data"))
    workers_env = {**env, "GOVLEDGER_DATABASE_URL": login_url(pg_url, "sealer")}
    assert subprocess.run([sys.executable, "-m", "govledger.cli", "init"], env=env, cwd=tmp_path).returncode == 0
    admin = subprocess.run([sys.executable, "-m", "govledger.cli", "users", "create-admin", "root"], env=env, cwd=tmp_path,
                           capture_output=True, text=True).stdout.strip().splitlines()[-1]
    ports = [_port(), _port()]
    processes = [_cli(env, tmp_path, "serve", "--port", str(p)) for p in ports] + [_cli(workers_env, tmp_path, "workers")]
    a, b = (f"http://127.0.0.1:{p}" for p in ports)
    try:
        for base, process in zip((a, b), processes):
            _wait_ready(base, process)
        status, _ = call(a, "POST", "/v1/users", admin, {"username": "dana", "role": "data_scientist"})
        assert status == 201
        status, issued = call(b, "POST", "/v1/users/dana/keys", admin, {"label": "laptop"})  # the user made through A
        assert status == 201
        dana = issued["api_key"]
        status, model = call(a, "POST", "/v1/models", dana, {"name": "pd"})
        model_id = model["model"]["model_id"]

        def command(i: int) -> tuple[int, int | None]:
            base = (a, b)[i % 2]
            if i % 3 == 0:  # many writers on one aggregate: each edit lands once or is refused as a conflict
                status, body = call(base, "PUT", f"/v1/models/{model_id}/compliance/sections/model_info", dana,
                                    {"content": f"revision {i}"})
            else:
                status, body = call(base, "POST", "/v1/datasets", dana, {
                    "name": f"part {i}", "source": f"s3://feed/{i}.csv", "schema": {"a": "float"}, "row_count": i,
                    "content_hash": f"{i:064x}"})
            return status, body.get("position")

        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(command, range(60)))
        assert {s for s, _ in results} <= {200, 201, 409}, results
        positions = [p for s, p in results if s in (200, 201)]
        assert len(positions) == len(set(positions)), "two commands answered with the same ledger position"
        datasets = sum(1 for i, (s, _) in enumerate(results) if i % 3 and s == 201)
        assert datasets == 40

        deadline = time.monotonic() + 30
        while True:  # the workers project; both processes then read the same answer
            views = [call(base, "GET", "/v1/datasets?limit=500", admin)[1] for base in (a, b)]
            if all(len(v["items"]) == 40 for v in views):
                break
            assert time.monotonic() < deadline, views
            time.sleep(0.2)
        assert views[0]["items"] == views[1]["items"]
        trail = [call(base, "GET", f"/v1/audit-trail?model_id={model_id}&limit=500", admin)[1]["items"] for base in (a, b)]
        edits = [e for e in trail[0] if e["event_type"] == "Model.ComplianceSectionEdited"]
        assert trail[0] == trail[1] and len(edits) == sum(1 for i, (s, _) in enumerate(results) if i % 3 == 0 and s == 200)
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)
    assert processes[-1].returncode == 0, processes[-1].stderr.read() if processes[-1].stderr else ""
    verified = subprocess.run([sys.executable, "-m", "govledger.cli", "verify"], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert verified.returncode == 0 and "chain intact" in verified.stdout, verified.stdout + verified.stderr
