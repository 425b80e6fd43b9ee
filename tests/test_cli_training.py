"""The Pipeline Manager's command line, run as the console script: connections, datasets from a file and from a
query, training and jobs, each as the user whose API key it is given."""

from __future__ import annotations

import os
import subprocess

import psycopg

from domain.application import Governance
from ledger.database import Database
from tests.test_cli import GOVLEDGER, run


def _users(tmp_path) -> dict[str, str]:
    """Keys of a superadmin and a data scientist on a new store in tmp_path, each in a file."""
    run("init", cwd=tmp_path)
    run("migrate", cwd=tmp_path)
    app = Governance(env=Database.from_url(f"sqlite:///{tmp_path / 'govledger-data' / 'govledger.db'}").eventsourcing_env())
    keys = {"root": app.create_admin("root").api_key}
    admin = app.authenticate(keys["root"])
    app.create_user(admin, "dana", "data_scientist")
    keys["dana"] = app.issue_api_key(admin, "dana", "cli").api_key
    files = {}
    for who, key in keys.items():
        files[who] = str(tmp_path / f"{who}.key")
        (tmp_path / f"{who}.key").write_text(key)
    return files


def _cli(tmp_path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """The console script as `run` gives it, with standard input."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("GOVLEDGER_")}, "COLUMNS": "100"}
    result = subprocess.run([str(GOVLEDGER), *args], cwd=tmp_path, input=stdin, capture_output=True, text=True,
                            timeout=120, env=env)
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    return result


def test_a_connection_takes_its_url_from_stdin_and_never_shows_the_password(tmp_path, pg_url, pg_reader_url):
    keys = _users(tmp_path)
    with psycopg.connect(pg_url, autocommit=True) as conn:  # as the superuser; the reader may SELECT what it creates
        conn.execute("CREATE TABLE loans (amount float, late boolean)")
        conn.execute("INSERT INTO loans SELECT g * 10.5, g % 2 = 0 FROM generate_series(1, 30) g")
    url = pg_reader_url.replace("@", ":s3cret-pa55@", 1)  # trust auth: the password is ignored, and must never show
    added = _cli(tmp_path, "connections", "add", "bureau", "--api-key-file", keys["root"], stdin=url + "\n")
    assert added.returncode == 0, added.stderr
    listed = _cli(tmp_path, "connections", "list", "--api-key-file", keys["dana"])
    ingested = _cli(tmp_path, "datasets", "query", "--connection", "bureau", "--query", "SELECT * FROM loans",
                    "--name", "loans", "--api-key-file", keys["dana"])
    assert ingested.returncode == 0, ingested.stderr
    assert "30 rows" in ingested.stdout and "bureau" in listed.stdout
    for result in (added, listed, ingested):
        assert "s3cret" not in result.stdout + result.stderr


def test_a_data_scientist_ingests_a_file_and_trains_and_the_job_is_shown(tmp_path):
    keys = _users(tmp_path)
    rows = "\n".join(f"{i % 50},{(i * 7) % 13},{'yes' if i % 3 else 'no'}" for i in range(200))
    (tmp_path / "d.csv").write_text("a,b,label\n" + rows + "\n")
    ingested = _cli(tmp_path, "datasets", "ingest", "d.csv", "--name", "d", "--api-key-file", keys["dana"])
    assert ingested.returncode == 0, ingested.stderr
    dataset_id = ingested.stdout.split()[1].rstrip(":")
    queued = _cli(tmp_path, "train", "--dataset", dataset_id, "--target", "label", "--task", "classification",
                  "--budget", "1", "--api-key-file", keys["dana"])
    assert queued.returncode == 0 and "queued" in queued.stdout, queued.stderr
    job_id = queued.stdout.split()[2]
    shown = _cli(tmp_path, "jobs", "show", job_id, "--api-key-file", keys["dana"])
    assert "queued" in shown.stdout
    refused = _cli(tmp_path, "train", "--dataset", dataset_id, "--target", "label", "--task", "classification",
                   "--budget", "1", "--api-key-file", keys["root"])
    assert refused.returncode != 0 and "forbidden" in refused.stderr and "Traceback" not in refused.stderr


def test_without_an_api_key_a_training_command_says_how_to_give_one(tmp_path):
    _users(tmp_path)
    result = _cli(tmp_path, "jobs", "show", "00000000-0000-4000-8000-000000000000")
    assert result.returncode != 0 and "GOVLEDGER_API_KEY" in result.stderr and "Traceback" not in result.stderr
