"""The `govledger` command as a user runs it: every failure is a clear message and a non-zero exit, never a traceback."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest


GOVLEDGER = Path(sys.executable).parent / "govledger"


def run(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """The installed console script, as a user runs it (without the caller's GOVLEDGER_* settings)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("GOVLEDGER_")}
    result = subprocess.run([str(GOVLEDGER), *args], cwd=cwd, env={**base, "COLUMNS": "100", **env},
                            capture_output=True, text=True, timeout=120)
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    return result


def test_a_fresh_machine_inits_migrates_seals_and_verifies(tmp_path):
    assert run("init", cwd=tmp_path).returncode == 0
    key = tmp_path / "govledger-data" / "keys" / "signing.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert key.with_suffix(".vkey").read_text().startswith("govledger.local/ledger+")
    first = run("migrate", cwd=tmp_path)
    assert first.returncode == 0 and "applied 0001_ledger_core" in first.stdout
    again = run("migrate", cwd=tmp_path)
    assert again.returncode == 0 and "up to date" in again.stdout
    assert run("seal", "--once", cwd=tmp_path).stdout.strip() == "nothing to seal"
    verified = run("verify", cwd=tmp_path)  # nothing signed yet: verification fails closed
    assert verified.returncode == 1 and "nothing_signed" in verified.stderr and "OK" not in verified.stdout


def test_the_demo_tells_the_governance_story_and_leaves_a_verifiable_store(tmp_path):
    demo = run("demo", "--days", "3", "--rows", "5", cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr
    story = demo.stdout
    assert "refused and recorded: dana tries to approve — [forbidden]" in story
    assert "refused and recorded: mia tries to approve — [precondition_failed]" in story
    assert "mia approves version 1. Compliance score" in story
    assert "chain intact" in story and "proof verified with ledger_tools" in story
    size = int(run("checkpoint", cwd=tmp_path).stdout.splitlines()[1])
    assert size > 24  # 24 partitions plus users, keys, model, version, sections, refusals, batch run, approval
    assert run("verify", cwd=tmp_path).returncode == 0
    again = run("demo", "--days", "3", "--rows", "5", cwd=tmp_path)
    assert again.returncode == 0 and "already told its story" in again.stdout


def test_a_tampered_store_fails_verify_naming_the_event(tmp_path):
    assert run("demo", "--days", "1", "--rows", "5", cwd=tmp_path).returncode == 0
    conn = sqlite3.connect(tmp_path / "govledger-data" / "govledger.db")
    conn.execute("DROP TRIGGER ledger_events_no_update")
    conn.execute("UPDATE ledger_events SET state = CAST(replace(CAST(state AS TEXT), '}', ' }') AS BLOB) WHERE rowid = 1")
    conn.commit()
    result = run("verify", cwd=tmp_path)
    assert result.returncode == 1
    assert "TAMPERED" in result.stderr and "position 0" in result.stderr and "version 1" in result.stderr


def test_production_mode_refuses_to_seal_without_a_signing_key(tmp_path):
    run("init", cwd=tmp_path)
    run("migrate", cwd=tmp_path)
    result = run("seal", "--once", cwd=tmp_path, GOVLEDGER_MODE="production")
    assert result.returncode == 2 and "GOVLEDGER_SIGNING_KEY" in result.stderr
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    result = run("init", cwd=fresh, GOVLEDGER_MODE="production")
    assert result.returncode == 2 and "GOVLEDGER_SIGNING_KEY" in result.stderr


def test_a_wrong_signing_key_file_is_refused_without_echoing_it(tmp_path):
    run("init", cwd=tmp_path)
    run("migrate", cwd=tmp_path)
    bad = tmp_path / "bad.key"
    bad.write_text("PRIVATE+KEY+x+00000000+c2VjcmV0LXNlZWQtYnl0ZXM=\n")
    result = run("seal", "--once", cwd=tmp_path, GOVLEDGER_SIGNING_KEY=str(bad))
    assert result.returncode == 2 and "is not a govledger signing key" in result.stderr
    assert "c2VjcmV0" not in result.stderr + result.stdout
    missing = run("seal", "--once", cwd=tmp_path, GOVLEDGER_SIGNING_KEY=str(tmp_path / "nope.key"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://root@localhost/x", "unsupported database URL scheme"),
        ("postgresql:///nohost", "needs a host and a database name"),
        ("postgresql://u@127.0.0.1:notaport/x", "invalid port"),
        ("sqlite:///", "names no file"),
        ("postgresql://gl:s3cret-pass@127.0.0.1:1/nowhere", "cannot connect"),
    ],
)
def test_a_bad_database_url_is_a_clear_error_that_never_shows_the_password(tmp_path, url, message):
    result = run("migrate", cwd=tmp_path, GOVLEDGER_DATABASE_URL=url)
    assert result.returncode == 2 and message in result.stderr
    assert "s3cret" not in result.stderr + result.stdout


def test_a_store_written_by_a_newer_schema_is_refused(tmp_path):
    run("init", cwd=tmp_path)
    run("migrate", cwd=tmp_path)
    conn = sqlite3.connect(tmp_path / "govledger-data" / "govledger.db")
    conn.execute("INSERT INTO _yoyo_migration VALUES ('f' || hex(randomblob(31)), '0099_from_the_future', '2030-01-01')")
    conn.commit()
    for command in ("migrate", "verify"):
        result = run(command, cwd=tmp_path)
        assert result.returncode == 2 and "newer" in result.stderr


def test_verify_before_migrate_says_what_to_run(tmp_path):
    run("init", cwd=tmp_path)
    result = run("verify", cwd=tmp_path)
    assert result.returncode == 2 and "govledger migrate" in result.stderr


def test_replay_refuses_a_malformed_id(tmp_path):
    result = run("replay", "not-a-uuid", cwd=tmp_path)
    assert result.returncode == 2 and "not a UUID" in result.stderr


def test_the_cli_works_on_postgresql_by_settings(tmp_path, pg_url):
    env = {"GOVLEDGER_DATABASE_URL": pg_url}
    assert run("init", cwd=tmp_path, **env).returncode == 0
    assert "up to date" in run("migrate", cwd=tmp_path, **env).stdout  # the test database arrives migrated
    demo = run("demo", "--days", "2", "--rows", "3", cwd=tmp_path, **env)
    assert demo.returncode == 0, demo.stderr
    assert "chain intact" in run("verify", cwd=tmp_path, **env).stdout


def test_export_by_time_and_by_model_then_verify_with_the_console_script(tmp_path):
    assert run("demo", "--days", "1", "--rows", "5", cwd=tmp_path).returncode == 0
    vkey = str(tmp_path / "govledger-data" / "keys" / "signing.vkey")
    by_time = run("export", "--out", "slice.zip", "--from", "2000-01-01", "--to", "2100-01-01", cwd=tmp_path)
    assert by_time.returncode == 0, by_time.stderr
    verifier = Path(sys.executable).parent / "ledger-verify"
    checked = subprocess.run([str(verifier), "slice.zip", "--trusted-key", vkey], cwd=tmp_path, capture_output=True, text=True)
    assert checked.returncode == 0 and checked.stdout.startswith("OK: ")
    for args, message in ((["--out", "slice.zip", "--from-position", "0"], "already exists"),
                          (["--out", "m", "--model", "not-a-uuid"], "is not a model id"),
                          (["--out", "m", "--model", "00000000-0000-0000-0000-000000000000"], "no model"),
                          (["--out", "m"], "choose exactly one selection")):
        refused = run("export", *args, cwd=tmp_path)
        assert refused.returncode == 2 and message in refused.stderr
    missing = subprocess.run([str(verifier), "nowhere.tar.gz", "--trusted-key", vkey], cwd=tmp_path, capture_output=True, text=True)
    assert missing.returncode == 1 and "does not exist" in missing.stderr


def test_serve_starts_the_api_on_the_sqlite_default(tmp_path):
    import socket
    import time
    import urllib.request

    assert run("init", cwd=tmp_path).returncode == 0 and run("migrate", cwd=tmp_path).returncode == 0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = {k: v for k, v in os.environ.items() if not k.startswith("GOVLEDGER_")}
    server = subprocess.Popen([sys.executable, "-m", "govledger.cli", "serve", "--port", str(port)], cwd=tmp_path, env=base,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as response:
                    assert json.loads(response.read())["status"] == "ready"
                    break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "the API did not come up"
                time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_workers_seal_and_project_until_stopped(tmp_path):
    import signal
    import sqlite3
    import time

    assert run("demo", "--days", "1", "--rows", "5", cwd=tmp_path).returncode == 0
    base = {k: v for k, v in os.environ.items() if not k.startswith("GOVLEDGER_")}
    workers = subprocess.Popen([sys.executable, "-m", "govledger.cli", "workers"], cwd=tmp_path, env=base,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert "running" in workers.stderr.readline()
    conn = sqlite3.connect(tmp_path / "govledger-data" / "govledger.db")
    deadline = time.monotonic() + 30
    total = conn.execute("SELECT MAX(rowid) FROM ledger_events").fetchone()[0]
    while conn.execute("SELECT COALESCE(MAX(notification_id), 0) FROM projection_tracking").fetchone()[0] < total:
        assert time.monotonic() < deadline, "the projector did not catch up"
        time.sleep(0.1)
    assert conn.execute("SELECT status FROM registry_versions WHERE valid_to IS NULL").fetchall() == [("deployed",)]
    workers.send_signal(signal.SIGTERM)
    assert workers.wait(timeout=30) == 0


# Usage mistakes, as a user types them.

def one_usage_line(result: subprocess.CompletedProcess[str]) -> str:
    """A usage error: exit 2, nothing on stdout, one line on stderr."""
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error [usage]: "), result.stderr
    return lines[0]


def test_bare_govledger_shows_the_commands_and_exits_2(tmp_path):
    result = run(cwd=tmp_path)
    assert result.returncode == 2
    assert "Usage: govledger" in result.stdout and "create-admin" not in result.stdout and "verify" in result.stdout


def test_dash_h_and_help_work_on_every_command(tmp_path):
    from typer.testing import CliRunner

    from govledger.cli import app

    for args in (["-h"], ["users", "create-admin", "--help"]):
        result = run(*args, cwd=tmp_path)
        assert result.returncode == 0 and f"Usage: govledger {' '.join(args[:-1])}".rstrip() in result.stdout
    runner = CliRunner()
    for path in command_paths():
        for flag in ("-h", "--help"):
            result = runner.invoke(app, [*path, flag], prog_name="govledger")
            assert result.exit_code == 0 and "Usage: govledger" in result.output, (path, flag, result.output)


def command_paths() -> list[list[str]]:
    import typer.main

    from govledger.cli import app

    def walk(command, path):
        yield path
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, [*path, name])

    return list(walk(typer.main.get_command(app), []))


def test_version_prints_the_version_and_exits_0(tmp_path):
    from importlib.metadata import version

    result = run("--version", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout == f"govledger {version('govledger')}\n"


def test_an_unknown_command_is_one_line_and_exit_2(tmp_path):
    line = one_usage_line(run("verfy", cwd=tmp_path))
    assert "No such command 'verfy'" in line and "govledger --help" in line


def test_an_unknown_option_is_one_line_and_exit_2(tmp_path):
    assert "No such option: --nosuch" in one_usage_line(run("--nosuch", cwd=tmp_path))
    assert "--nosuch" in one_usage_line(run("verify", "--nosuch", cwd=tmp_path))


def test_a_missing_argument_is_named_as_the_usage_line_shows_it(tmp_path):
    for args, name in ((["replay"], "'ID'"), (["users", "create-admin"], "'NAME'"), (["erase-subject", "--reason", "x"], "'USER_ID'"),
                       (["export"], "'--out'")):
        line = one_usage_line(run(*args, cwd=tmp_path))
        assert f"Missing {'option' if name.startswith(chr(39) + '-') else 'argument'} {name}" in line, line
        assert f"govledger {' '.join(a for a in args if not a.startswith('-') and a != 'x')} --help" in line


def test_every_argument_has_a_metavar_so_its_error_names_what_the_usage_shows():
    import typer.main

    from govledger.cli import app

    root = typer.main.get_command(app)
    unnamed = []
    for path in command_paths():
        command = root
        for name in path:
            command = command.commands[name]
        unnamed += [(" ".join(path), p.name) for p in command.params if p.param_type_name == "argument" and p.metavar is None]
    assert unnamed == []


def test_a_port_that_is_not_a_number_is_one_line_and_exit_2(tmp_path):
    line = one_usage_line(run("serve", "--port", "abc", cwd=tmp_path))
    assert "'--port'" in line and "integer" in line
    assert "'--port'" in one_usage_line(run("serve", "--port", "99999", cwd=tmp_path))


def test_a_malformed_date_is_one_line_and_exit_2(tmp_path):
    assert "'--from'" in one_usage_line(run("export", "--out", "x", "--from", "2026-13-45", cwd=tmp_path))
    assert "'--at'" in one_usage_line(run("replay", str(tmp_path.name), "--at", "yesterday", cwd=tmp_path))


def test_checkpoint_on_an_unmigrated_store_says_to_migrate(tmp_path):
    assert run("init", cwd=tmp_path).returncode == 0
    result = run("checkpoint", cwd=tmp_path)
    assert result.returncode == 2 and "govledger migrate" in result.stderr and len(result.stderr.splitlines()) == 1


def test_a_data_directory_that_cannot_be_made_is_one_line_naming_the_path(tmp_path):
    (tmp_path / "a-file").write_text("not a directory")
    result = run("init", cwd=tmp_path, GOVLEDGER_DATA_DIR=str(tmp_path / "a-file" / "data"))
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("error [file_error]: ") and "a-file" in result.stderr


def test_replaying_a_version_the_aggregate_never_reached_is_refused_instead_of_answering_the_latest(tmp_path):
    from domain.users import user_id_for

    for args in (["init"], ["migrate"], ["users", "create-admin", "alice"]):
        assert run(*args, cwd=tmp_path).returncode == 0
    alice = str(user_id_for("alice"))
    assert '"username": "alice"' in run("replay", alice, "--version", "1", cwd=tmp_path).stdout
    result = run("replay", alice, "--version", "50", cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("error [not_found]: ") and "has no version 50" in result.stderr


def test_a_store_locked_by_another_writer_is_one_line_not_yoyos_break_lock_advice(tmp_path):
    for args in (["init"], ["migrate"]):
        assert run(*args, cwd=tmp_path).returncode == 0
    writer = sqlite3.connect(tmp_path / "govledger-data" / "govledger.db", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        result = run("seal", "--once", cwd=tmp_path)
    finally:
        writer.rollback()
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("error [database_unavailable]: ") and "break-lock" not in result.stderr


def test_a_database_url_naming_a_file_that_is_not_a_database_is_one_line(tmp_path):
    (tmp_path / "applications.csv").write_text("id,income\n" * 200)
    import time

    for command in ("migrate", "checkpoint"):
        started = time.monotonic()
        result = run(command, cwd=tmp_path, GOVLEDGER_DATABASE_URL=f"sqlite:///{tmp_path / 'applications.csv'}")
        assert time.monotonic() - started < 30, "refused only after waiting for the migration lock"
        assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result.stderr
        assert result.stderr.startswith("error [database_unavailable]: ") and "file is not a database" in result.stderr


def test_the_demo_refuses_to_invent_a_superadmin_in_production_mode(tmp_path):
    key = tmp_path / "signing.key"
    assert run("init", cwd=tmp_path, GOVLEDGER_SIGNING_KEY=str(key)).returncode == 0  # development: makes the key
    result = run("demo", cwd=tmp_path, GOVLEDGER_MODE="production", GOVLEDGER_SIGNING_KEY=str(key))
    assert result.returncode == 2 and result.stderr.startswith("error [config_invalid]: ") and "production" in result.stderr
    assert not (tmp_path / "govledger-data" / "demo-admin.apikey").exists()
    assert not (tmp_path / "govledger-data" / "govledger.db").exists()


def test_a_path_with_a_newline_cannot_forge_a_second_line_of_output(tmp_path):
    (tmp_path / "a-file").write_text("not a directory")
    result = run("init", cwd=tmp_path, GOVLEDGER_DATA_DIR=str(tmp_path / "a-file" / "x\nOK: 0 events, chain intact"))
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result.stderr
