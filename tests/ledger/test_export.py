"""Bundles for regulators: each kind verifies offline with only ledger_tools and cryptography; any tampering is named."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import pytest

from domain.application import Governance
from ledger.errors import InvalidArgument
from datetime import UTC, datetime

from domain.users import user_id_for
from ledger.export import by_aggregates, by_positions, by_time, export_bundle
from ledger_tools import Checkpoint, generate_signer, sign_checkpoint
from ledger_tools.bundle import BundleError, verify_bundle
from tests.domain.world import MemoryArtifacts
from tests.standalone import run_standalone

from .helpers import fill, query, seal_all


@pytest.fixture
def store(db, signer):
    """40 sealed dataset events, a model with one imported version, then a second checkpoint."""
    fill(db, 40)
    seal_all(db, signer)
    app = Governance(env=db.eventsourcing_env(), artifacts=MemoryArtifacts())
    key = app.create_admin("root").api_key
    admin = app.authenticate(key)
    app.create_user(admin, "dana", "data_scientist")
    dana = app.authenticate(app.issue_api_key(admin, "dana", "t").api_key)
    dataset = app.register_dataset(dana, name="d", source="s", schema={"a": "integer"}, row_count=1, content_hash="ab" * 32).id
    model = app.register_model(dana, name="credit").id
    app.import_version(dana, model, artifact=b"m", declared_hash=hashlib.sha256(b"m").hexdigest(), estimator="x",
                       metrics={"auc": 0.7}, input_schema={"a": "integer"}, target="y", dataset_ids=[dataset])
    app.edit_section(dana, model, "model_info", "a model")
    seal_all(db, signer)
    return db, model, app.repository.get(model).version_ids


def export(db, signer, out: Path, *, model=None, since=None, start=0, end=10**9):
    with db.connect() as conn:
        if model is not None:
            db_, model_id, versions = model
            selection = by_aggregates(db, conn, "model", {"model": str(model_id)}, [model_id, *versions])
        else:
            selection = by_positions(db, conn, start, end)
        return export_bundle(db, conn, signer.verifier, selection, out, since)


@pytest.mark.parametrize("kind", ["range.dir", "range.tar.gz", "model.zip", "time.dir", "subject.tar.gz", "consistency.dir"])
def test_each_kind_of_bundle_verifies_in_a_process_with_only_ledger_tools(store, signer, key_path, tmp_path, kind):
    db = store[0]
    out = tmp_path / f"bundle-{kind.replace('.dir', '')}"
    if kind == "model.zip":
        manifest = export(db, signer, out, model=store)
        assert manifest["events"] == 4  # registered, version added, section edited on the model; imported on the version
    elif kind == "time.dir":
        app = Governance(env=db.eventsourcing_env())
        with db.connect() as conn:
            selection = by_time(db, conn, app.mapper, datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
            manifest = export_bundle(db, conn, signer.verifier, selection, out)
        assert manifest["events"] == query(db, "SELECT COUNT(*) FROM ledger_events")[0][0]  # every event is in that range
    elif kind == "subject.tar.gz":
        dana = user_id_for("dana")
        with db.connect() as conn:
            selection = by_aggregates(db, conn, "subject", {"subject": str(dana)}, [dana])
            manifest = export_bundle(db, conn, signer.verifier, selection, out)
        assert manifest["events"] == 2  # created, API key issued
    elif kind == "consistency.dir":
        first = query(db, "SELECT note FROM ledger_checkpoints ORDER BY tree_size LIMIT 1")[0][0]
        manifest = export(db, signer, out, since=first, start=35, end=45)
    else:
        manifest = export(db, signer, out, start=5, end=30)
    result = run_standalone(tmp_path, ["-m", "ledger_tools", "verify", str(out), "--trusted-key", str(key_path.with_suffix(".vkey"))])
    assert result.returncode == 0, result.stderr
    assert f"OK: {manifest['events']} events" in result.stdout
    if kind == "consistency.dir":
        assert "extends the checkpoint of size 40" in result.stdout


@pytest.fixture
def bundle(sqlite_url, signer, tmp_path):
    from ledger.database import Database

    db = Database.from_url(sqlite_url)
    fill(db, 25)
    seal_all(db, signer)
    out = tmp_path / "bundle"
    export(db, signer, out, start=3, end=20)
    return out


def rewrite(bundle: Path, name: str, data: bytes) -> None:
    """Change a file and, as a careful attacker would, its hash in the manifest too."""
    (bundle / name).write_bytes(data)
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["files"][name] = hashlib.sha256(data).hexdigest()
    (bundle / "manifest.json").write_text(json.dumps(manifest))


def test_an_untouched_bundle_verifies(bundle, signer):
    report = verify_bundle(bundle, str(signer.verifier))
    assert (report.events, report.first_position, report.last_position, report.key_pinned) == (18, 3, 20, True)


@pytest.mark.parametrize("name", ["manifest.json", "checkpoint.note", "verifier.vkey", "events.jsonl", "proofs.jsonl"])
def test_a_one_byte_change_to_any_file_is_rejected(bundle, signer, name):
    data = (bundle / name).read_bytes()
    for offset in random.Random(name).sample(range(len(data)), 12):
        changed = bytearray(data)
        changed[offset] ^= 0x01
        (bundle / name).write_bytes(bytes(changed))
        with pytest.raises(BundleError):
            verify_bundle(bundle, str(signer.verifier))
    (bundle / name).write_bytes(data)
    verify_bundle(bundle, str(signer.verifier))


def test_an_altered_event_is_named_even_when_the_manifest_is_rewritten(bundle, signer):
    lines = (bundle / "events.jsonl").read_bytes().splitlines(keepends=True)
    event = json.loads(lines[4])
    event["topic"] = event["topic"] + "X"
    lines[4] = json.dumps(event).encode() + b"\n"
    rewrite(bundle, "events.jsonl", b"".join(lines))
    with pytest.raises(BundleError, match="position 7 .*altered"):
        verify_bundle(bundle, str(signer.verifier))


def test_a_removed_event_is_rejected(bundle, signer):
    lines = (bundle / "events.jsonl").read_bytes().splitlines(keepends=True)
    rewrite(bundle, "events.jsonl", b"".join(lines[:5] + lines[6:]))
    with pytest.raises(BundleError, match="holds 17 events|no event|does not follow"):
        verify_bundle(bundle, str(signer.verifier))


def test_an_added_event_is_rejected(bundle, signer):
    lines = (bundle / "events.jsonl").read_bytes().splitlines(keepends=True)
    forged = json.loads(lines[-1])
    forged["position"] = 21
    rewrite(bundle, "events.jsonl", b"".join(lines) + json.dumps(forged).encode() + b"\n")
    with pytest.raises(BundleError, match="holds 19 events, manifest.json says 18"):
        verify_bundle(bundle, str(signer.verifier))
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["events"] = 19  # a careful forger fixes the count too
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="position 21 .*(chain hash does not follow|no inclusion proof)"):
        verify_bundle(bundle, str(signer.verifier))


def test_swapped_proofs_are_rejected(bundle, signer):
    proofs = [json.loads(line) for line in (bundle / "proofs.jsonl").read_bytes().splitlines()]
    proofs[2]["path"], proofs[9]["path"] = proofs[9]["path"], proofs[2]["path"]  # two valid proofs, each for the other leaf
    rewrite(bundle, "proofs.jsonl", b"".join(json.dumps(p).encode() + b"\n" for p in proofs))
    with pytest.raises(BundleError, match="position 5 .*inclusion proof does not lead"):
        verify_bundle(bundle, str(signer.verifier))


def test_a_checkpoint_signed_by_another_key_is_rejected_when_the_key_is_pinned(bundle, signer):
    impostor = generate_signer(signer.name)
    note = (bundle / "checkpoint.note").read_text()
    size, root = note.split("\n")[1], note.split("\n")[2]
    import base64

    rewrite(bundle, "checkpoint.note", sign_checkpoint(Checkpoint(signer.name, int(size), base64.b64decode(root)), impostor).encode())
    rewrite(bundle, "verifier.vkey", str(impostor.verifier).encode())
    with pytest.raises(BundleError, match="not the trusted key"):
        verify_bundle(bundle, str(signer.verifier))


def test_a_consistency_proof_from_an_unrelated_checkpoint_is_refused(store, signer, tmp_path):
    db = store[0]
    stranger = sign_checkpoint(Checkpoint(signer.name, 20, bytes(32)), generate_signer(signer.name))
    with pytest.raises(InvalidArgument, match="does not verify"):
        export(db, signer, tmp_path / "b", since=stranger)
    unrelated = sign_checkpoint(Checkpoint(signer.name, 20, hashlib.sha256(b"other log").digest()), signer)
    out = tmp_path / "c"
    export(db, signer, out, since=unrelated)
    with pytest.raises(BundleError, match="consistency.json does not prove"):
        verify_bundle(out, str(signer.verifier))


@pytest.fixture
def ten_sealed(sqlite_url, signer):
    from ledger.database import Database

    db = Database.from_url(sqlite_url)
    fill(db, 10)
    seal_all(db, signer)
    return db


def test_a_truncated_archive_is_rejected(ten_sealed, signer, tmp_path):
    db = ten_sealed
    out = tmp_path / "b.tar.gz"
    export(db, signer, out)
    out.write_bytes(out.read_bytes()[: out.stat().st_size // 2])
    with pytest.raises(BundleError, match="cannot read bundle"):
        verify_bundle(out, str(signer.verifier))


def test_bad_exports_are_refused_and_write_nothing(ten_sealed, signer, tmp_path):
    db = ten_sealed
    fill(db, 2, start=10)  # not sealed yet
    existing = tmp_path / "exists"
    existing.mkdir()
    cases = [({"start": 0, "end": 5}, existing, "already exists"), ({"start": 50, "end": 60}, tmp_path / "a", "beyond the end"),
             ({"start": 5, "end": 2}, tmp_path / "b", "empty"), ({"start": 0, "end": 11}, tmp_path / "c", "not sealed yet")]
    for kwargs, out, message in cases:
        with pytest.raises(InvalidArgument, match=message):
            export(db, signer, out, **kwargs)
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("ledger")) == ["exists", "keys"]
