"""Bundles for regulators: each kind verifies offline with only ledger_tools and cryptography; any tampering is named."""

from __future__ import annotations

import base64
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
        (tmp_path / "held.note").write_text(first)
    else:
        manifest = export(db, signer, out, start=5, end=30)
    held = ["--held-checkpoint", str(tmp_path / "held.note")] if kind == "consistency.dir" else []
    result = run_standalone(tmp_path, ["-m", "ledger_tools", "verify", str(out), "--trusted-key",
                                       str(key_path.with_suffix(".vkey")), *held])
    assert result.returncode == 0, result.stderr
    assert f"OK: {manifest['events']} events" in result.stdout
    if kind == "consistency.dir":
        assert "extends the checkpoint of size 40 you hold" in result.stdout


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
    with pytest.raises(BundleError, match="proofs.jsonl holds 18 lines for 19 events"):
        verify_bundle(bundle, str(signer.verifier))
    proofs = (bundle / "proofs.jsonl").read_bytes()
    rewrite(bundle, "proofs.jsonl", proofs + proofs.splitlines(keepends=True)[-1].replace(b'"position": 20', b'"position": 21'))
    with pytest.raises(BundleError, match="selection is positions 3 to 20, but events.jsonl holds 19"):
        verify_bundle(bundle, str(signer.verifier))
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["selection"]["last_position"] = 21  # and the range
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="position 21 .*(chain hash does not follow|inclusion proof does not lead)"):
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
    rewrite(bundle, "checkpoint.note", sign_checkpoint(Checkpoint(signer.name, int(size), base64.b64decode(root)), impostor).encode())
    rewrite(bundle, "verifier.vkey", f"{impostor.verifier}\n".encode())
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
    with pytest.raises(BundleError, match="does not extend the checkpoint you hold"):
        verify_bundle(out, str(signer.verifier), held_checkpoint=unrelated)


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


def drop_lines(bundle: Path, *numbers: int) -> None:
    """Remove events (and their proofs) as a careful forger would: every hash and the count in the manifest follow."""
    for name in ("events.jsonl", "proofs.jsonl"):
        lines = (bundle / name).read_bytes().splitlines(keepends=True)
        rewrite(bundle, name, b"".join(line for i, line in enumerate(lines) if i not in numbers))
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["events"] -= len(numbers)
    (bundle / "manifest.json").write_text(json.dumps(manifest))


def set_selection(bundle: Path, **fields) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["selection"].update(fields)
    (bundle / "manifest.json").write_text(json.dumps(manifest))


def test_bundle_with_middle_event_removed_and_manifest_rewritten_is_refused(bundle, signer):
    drop_lines(bundle, 5)
    with pytest.raises(BundleError, match="selection is positions 3 to 20, but events.jsonl holds 17"):
        verify_bundle(bundle, str(signer.verifier))
    set_selection(bundle, last_position=19)  # the count now agrees with the claimed range: the gap is still named
    with pytest.raises(BundleError, match="position 8 is missing"):
        verify_bundle(bundle, str(signer.verifier))


def test_bundle_with_first_event_removed_and_manifest_rewritten_is_refused(bundle, signer):
    drop_lines(bundle, 0)
    set_selection(bundle, last_position=19)
    with pytest.raises(BundleError, match="position 3 is missing"):
        verify_bundle(bundle, str(signer.verifier))


def test_bundle_with_first_event_removed_and_its_range_rewritten_proves_only_the_positions_it_holds(bundle, signer):
    drop_lines(bundle, 0)
    set_selection(bundle, first_position=4)
    report = verify_bundle(bundle, str(signer.verifier))
    assert "every position from 4 to 20, none missing" in report.verdict()[0]


def test_bundle_whose_manifest_claims_a_larger_range_than_it_holds_is_refused(bundle, signer):
    set_selection(bundle, last_position=24)
    with pytest.raises(BundleError, match="positions are missing"):
        verify_bundle(bundle, str(signer.verifier))
    set_selection(bundle, last_position=25)  # beyond the signed tree
    with pytest.raises(BundleError, match="last_position"):
        verify_bundle(bundle, str(signer.verifier))


def test_the_verdict_of_a_range_bundle_names_exactly_the_positions_proven(bundle, signer):
    report = verify_bundle(bundle, str(signer.verifier))
    assert report.verdict() == [f"OK: 18 events: every position from 3 to 20, none missing, each proven by its inclusion "
                                f"proof in the tree of 25 leaves of {signer.name!r}, signed by {signer.verifier}"]


@pytest.fixture
def model_bundle(store, signer, tmp_path):
    out = tmp_path / "model"
    export(store[0], signer, out, model=store)
    return out


def test_model_slice_with_a_middle_version_removed_and_manifest_rewritten_is_refused(model_bundle, signer):
    events = [json.loads(line) for line in (model_bundle / "events.jsonl").read_bytes().splitlines()]
    second = next(i for i, e in enumerate(events) if e["originator_version"] == 2)
    drop_lines(model_bundle, second)
    with pytest.raises(BundleError, match="version 2 of that aggregate is missing"):
        verify_bundle(model_bundle, str(signer.verifier))


def test_model_slice_with_an_aggregate_removed_and_manifest_rewritten_is_refused(model_bundle, signer):
    events = [json.loads(line) for line in (model_bundle / "events.jsonl").read_bytes().splitlines()]
    version_aggregate = next(e["originator_id"] for e in events if e["topic"].endswith("Version.Imported"))
    drop_lines(model_bundle, *[i for i, e in enumerate(events) if e["originator_id"] == version_aggregate])
    with pytest.raises(BundleError, match="exactly the aggregates"):
        verify_bundle(model_bundle, str(signer.verifier))


def test_a_model_slice_verdict_says_what_it_does_not_prove(model_bundle, signer, store):
    verdict = verify_bundle(model_bundle, str(signer.verifier)).verdict()
    assert f"OK: aggregate {store[1]}: versions 1 to 3, none missing" in verdict
    assert verdict[-1].startswith("NOT PROVEN: that the slice is whole")


def test_a_new_checkpoint_pasted_as_the_old_one_with_an_empty_proof_proves_nothing(store, signer, tmp_path):
    db = store[0]
    notes = [row[0] for row in query(db, "SELECT note FROM ledger_checkpoints ORDER BY tree_size")]
    out = tmp_path / "b"
    export(db, signer, out, since=notes[-1], start=0, end=5)  # "the old checkpoint" is the new one, the proof empty
    report = verify_bundle(out, str(signer.verifier))
    assert report.held_size is None and report.verdict()[-1].startswith("NOT CHECKED")
    with pytest.raises(BundleError, match="no consistency proof from the size 40 you hold"):
        verify_bundle(out, str(signer.verifier), held_checkpoint=notes[0])


def test_a_forked_history_signed_by_the_real_key_is_refused_against_the_held_checkpoint(store, signer, tmp_path):
    from ledger.database import Database
    from ledger.migrate import migrate

    held = query(store[0], "SELECT note FROM ledger_checkpoints ORDER BY tree_size LIMIT 1")[0][0]
    fork = Database.from_url(f"sqlite:///{tmp_path / 'fork.db'}")  # another history, sealed by the same key
    migrate(fork)
    fill(fork, 40)
    seal_all(fork, signer)
    fill(fork, 5, start=40)
    seal_all(fork, signer)
    forked_old = query(fork, "SELECT note FROM ledger_checkpoints ORDER BY tree_size LIMIT 1")[0][0]
    out = tmp_path / "forked"
    export(fork, signer, out, since=forked_old, start=40, end=44)
    verify_bundle(out, str(signer.verifier), held_checkpoint=forked_old)  # consistent with its own history
    with pytest.raises(BundleError, match="does not extend the checkpoint you hold"):
        verify_bundle(out, str(signer.verifier), held_checkpoint=held)


def test_a_bundle_verified_without_a_pinned_key_is_refused(bundle, signer, tmp_path):
    from ledger_tools.errors import MalformedInputError

    with pytest.raises(MalformedInputError, match="pinned key is required"):
        verify_bundle(bundle, None)
    refused = run_standalone(tmp_path, ["-m", "ledger_tools", "verify", str(bundle)])
    assert refused.returncode == 2 and refused.stdout == "" and len(refused.stderr.splitlines()) == 1
    assert "--trusted-key" in refused.stderr
    untrusted = run_standalone(tmp_path, ["-m", "ledger_tools", "verify", str(bundle), "--insecure-trust-bundle-key"])
    assert untrusted.returncode == 0, untrusted.stderr
    assert untrusted.stdout.startswith("UNTRUSTED: no key was pinned") and "nothing below is trusted" in untrusted.stdout


def test_a_checkpoint_whose_origin_is_not_the_key_name_is_refused(bundle, signer):
    note = (bundle / "checkpoint.note").read_text().split("\n")
    forged = sign_checkpoint(Checkpoint("another.log/elsewhere", int(note[1]), base64.b64decode(note[2])), signer)
    rewrite(bundle, "checkpoint.note", forged.encode())
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["origin"] = "another.log/elsewhere"
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="not a checkpoint of 'test.govledger/ledger'"):
        verify_bundle(bundle, str(signer.verifier))


def test_a_time_bundle_proves_the_whole_position_range_it_spans_and_says_the_times_are_not_proven(store, signer, tmp_path):
    db = store[0]
    app = Governance(env=db.eventsourcing_env())
    with db.connect() as conn:
        selection = by_time(db, conn, app.mapper, datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
        export_bundle(db, conn, signer.verifier, selection, tmp_path / "t")
    size = query(db, "SELECT COUNT(*) FROM ledger_events")[0][0]
    verdict = verify_bundle(tmp_path / "t", str(signer.verifier)).verdict()
    assert f"every position from 0 to {size - 1}, none missing" in verdict[0]
    assert verdict[1].startswith("NOT PROVEN: that these positions are exactly the events from 2000-01-01")


def test_a_subject_bundle_names_the_subject_by_its_canonical_id_however_it_was_typed(store, signer, tmp_path):
    # The verifier requires the named subject to be one of the bundle's aggregates, spelled as stored.
    from ledger.slices import choose

    db = store[0]
    dana = user_id_for("dana")
    app = Governance(env=db.eventsourcing_env(), artifacts=MemoryArtifacts())
    with db.connect() as conn:
        selection = choose(app, db, conn, subject=dana.hex.upper())
        manifest = export_bundle(db, conn, signer.verifier, selection, tmp_path / "b")
    assert manifest["selection"]["subject"] == str(dana) and str(dana) in manifest["selection"]["aggregates"]
    assert verify_bundle(tmp_path / "b", str(signer.verifier)).chosen_by == f"subject {dana}"
