"""Key material: only the sealer holds the private signing key, with mode 0600; API nodes run on the public key
alone; production refuses keys and secrets that other users can read, and secrets that are placeholders."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from govledger.bootstrap import Ledger
from ledger.errors import ConfigError, SigningKeyError
from ledger.keys import create_signing_key
from ledger.migrate import migrate
from ledger.settings import load_settings

SECRET = "9f1c2b7e4d5a6f8091a2b3c4d5e6f708"


def cli(*args: str, cwd: Path, umask: int = 0o022, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("GOVLEDGER_")}
    result = subprocess.run([sys.executable, "-m", "govledger.cli", *args], cwd=cwd, env={**base, **env},
                            capture_output=True, text=True, timeout=120, preexec_fn=lambda: os.umask(umask))
    assert "Traceback" not in result.stderr, result.stderr
    return result


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("umask", [0o000, 0o077])
def test_keys_generate_makes_a_private_key_for_the_sealer_and_a_public_key_for_everyone_whatever_the_umask(tmp_path, umask):
    result = cli("keys", "generate", "--out", "k/sealer.key", "--name", "bank.example/ledger", cwd=tmp_path, umask=umask)
    assert result.returncode == 0, result.stderr
    private, public = tmp_path / "k" / "sealer.key", tmp_path / "k" / "sealer.vkey"
    assert (mode(private), mode(public)) == (0o600, 0o644)
    assert public.read_text().startswith("bank.example/ledger+") and "PRIVATE" not in public.read_text()
    again = cli("keys", "generate", "--out", "k/sealer.key", cwd=tmp_path)
    assert again.returncode == 2 and "refusing to overwrite" in again.stderr


def test_production_refuses_a_signing_key_that_other_users_can_read(tmp_path):
    assert cli("init", cwd=tmp_path).returncode == 0
    assert cli("migrate", cwd=tmp_path).returncode == 0
    key = tmp_path / "govledger-data" / "keys" / "signing.key"
    key.chmod(0o644)
    result = cli("seal", "--once", cwd=tmp_path, GOVLEDGER_MODE="production", GOVLEDGER_SIGNING_KEY=str(key))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "0644" in result.stderr and "chmod 600" in result.stderr
    key.chmod(0o600)
    assert cli("seal", "--once", cwd=tmp_path, GOVLEDGER_MODE="production", GOVLEDGER_SIGNING_KEY=str(key)).returncode == 0


@pytest.fixture
def store(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    migrate(Ledger(load_settings(data_dir=data)).db)
    return data


def test_a_production_api_node_runs_with_only_the_public_key(store, tmp_path):
    public = tmp_path / "elsewhere" / "signing.vkey"
    signer = create_signing_key(tmp_path / "sealer-only" / "signing.key", "bank.example/ledger")
    public.parent.mkdir()
    public.write_text(str(signer.verifier) + "\n")
    settings = load_settings(mode="production", data_dir=store, verify_key=public, api_secret=SECRET)
    services = Ledger(settings).api_services()
    assert services.verifier.name == "bank.example/ledger" and services.cursor_secret == SECRET.encode()


def test_an_api_node_never_reads_the_private_key_even_beside_it(store, monkeypatch):
    key = store / "keys" / "signing.key"
    create_signing_key(key, "dev.example/ledger")
    read: list[Path] = []
    original = Path.read_text
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: read.append(self) or original(self, *a, **k))
    Ledger(load_settings(data_dir=store)).api_services()
    assert key.resolve() not in [p.resolve() for p in read]


def test_an_api_node_refuses_a_private_key_given_as_its_public_key(store):
    key = store / "keys" / "signing.key"
    create_signing_key(key, "dev.example/ledger")
    with pytest.raises(SigningKeyError, match="private signing key"):
        Ledger(load_settings(data_dir=store, verify_key=key)).api_services()


@pytest.mark.parametrize("secret", [None, "changeme", "x" * 40, "short-but-random-1f3a"])
def test_production_refuses_a_missing_or_placeholder_api_secret(store, tmp_path, secret):
    create_signing_key(tmp_path / "s.key", "bank.example/ledger")
    settings = load_settings(mode="production", data_dir=store, verify_key=tmp_path / "s.vkey", api_secret=secret)
    with pytest.raises(ConfigError, match="GOVLEDGER_API_SECRET|placeholder"):
        Ledger(settings).api_services()


def test_production_refuses_an_api_secret_file_that_other_users_can_read(store, tmp_path):
    create_signing_key(tmp_path / "s.key", "bank.example/ledger")
    secret = store / "keys" / "api.secret"
    secret.parent.mkdir(exist_ok=True)
    secret.write_text(SECRET)
    secret.chmod(0o640)
    settings = load_settings(mode="production", data_dir=store, verify_key=tmp_path / "s.vkey")
    with pytest.raises(ConfigError, match="0640"):
        Ledger(settings).api_services()
    secret.chmod(0o600)
    assert Ledger(settings).api_services().cursor_secret == SECRET.encode()


def test_init_makes_one_cursor_secret_that_every_api_process_reads(tmp_path):
    assert cli("init", cwd=tmp_path, umask=0).returncode == 0
    secret = tmp_path / "govledger-data" / "keys" / "api.secret"
    assert mode(secret) == 0o600 and len(secret.read_text().strip()) == 64
    settings = load_settings(data_dir=tmp_path / "govledger-data")
    assert Ledger(settings).cursor_secret() == Ledger(settings).cursor_secret() == secret.read_text().strip().encode()
    assert cli("init", cwd=tmp_path).returncode == 0 and secret.read_text().strip().encode() == Ledger(settings).cursor_secret()
