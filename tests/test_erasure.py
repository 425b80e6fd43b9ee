"""Crypto-shredding end to end: a subject's personal data is never stored in clear, and after erasure no read,
export or replay shows it, while verify still passes on the store and on every bundle."""

from __future__ import annotations

import pytest

from domain.application import Governance
from domain.errors import Forbidden
from ledger.database import Database
from ledger.sealer import seal_pending
from ledger.subjects import ERASED, SubjectVault
from ledger.verify import verify_store
from ledger_tools.bundle import read_bundle, verify_bundle
from tests.domain.world import MemoryArtifacts

from .test_cli import run

EMAIL = "ana.lovelace@example.org"


def _app(db: Database) -> Governance:
    return Governance(env=db.eventsourcing_env(), artifacts=MemoryArtifacts(), vault=SubjectVault(db))


def test_a_users_email_is_stored_only_as_ciphertext_and_is_unreadable_after_erasure(db, signer):
    app = _app(db)
    admin = app.authenticate(app.create_admin("root").api_key)
    user_id = app.create_user(admin, "ana", "auditor", email=EMAIL).id
    assert app.user_email(admin, "ana") == EMAIL
    with db.connect() as conn:
        stored = b"".join(bytes(s) for (s,) in conn.execute("SELECT state FROM ledger_events"))
    assert EMAIL.encode() not in stored
    auditor = app.authenticate(app.issue_api_key(admin, "ana", "k").api_key)
    with pytest.raises(Forbidden):
        app.erase_subject(auditor, str(user_id), reason="not theirs to erase")
    assert app.erase_subject(admin, str(user_id), reason="GDPR request 2026-117").key_destroyed is True
    assert app.user_email(admin, "ana") == ERASED
    assert app.erase_subject(admin, str(user_id), reason="again").key_destroyed is False  # idempotent, one SubjectErased
    with db.connect() as conn:
        seal_pending(db, conn, signer)
        verify_store(db, conn, signer.verifier)


def test_erase_subject_and_export_through_the_cli(tmp_path):
    assert run("init", cwd=tmp_path).returncode == 0 and run("migrate", cwd=tmp_path).returncode == 0
    env_url = f"sqlite:///{tmp_path / 'govledger-data' / 'govledger.db'}"
    db = Database.from_url(env_url)
    app = _app(db)
    admin = app.authenticate(app.create_admin("root").api_key)
    user_id = str(app.create_user(admin, "ana", "auditor", email=EMAIL).id)
    app.issue_api_key(admin, "ana", "laptop")
    app.close()
    assert run("seal", "--once", cwd=tmp_path).returncode == 0
    before = run("export", "--out", "before", "--subject", user_id, cwd=tmp_path)
    assert before.returncode == 0, before.stderr
    erased = run("erase-subject", user_id, "--reason", "GDPR request 2026-117", cwd=tmp_path)
    assert erased.returncode == 0 and "erased data subject" in erased.stdout
    assert run("seal", "--once", cwd=tmp_path).returncode == 0
    after = run("export", "--out", "after.tar.gz", "--subject", user_id, cwd=tmp_path)
    assert after.returncode == 0, after.stderr
    vkey = (tmp_path / "govledger-data" / "keys" / "signing.vkey").read_text().strip()
    for bundle in ("before", "after.tar.gz"):
        report = verify_bundle(tmp_path / bundle, vkey)
        assert report.events >= 3
        files = read_bundle(tmp_path / bundle)
        assert EMAIL.encode() not in b"".join(files.values())
    assert b"SubjectErased" in read_bundle(tmp_path / "after.tar.gz")["events.jsonl"]
    replay = run("replay", user_id, cwd=tmp_path)
    assert replay.returncode == 0 and "gls1:" in replay.stdout and EMAIL not in replay.stdout
    assert _app(db).user_email(admin, "ana") == ERASED
    assert run("verify", cwd=tmp_path).returncode == 0
    unknown = run("erase-subject", "00000000-0000-0000-0000-000000000000", "--reason", "x", cwd=tmp_path)
    assert unknown.returncode == 2 and "no data subject" in unknown.stderr
