"""The worked examples of docs/ledger-format.md hold, byte for byte: its bundle and its receipt verify.

`python -m tests.ledger_tools.test_format_example` prints the receipt example's blocks, to paste into the page.
"""

from __future__ import annotations

import base64
import json
import re
import sys
from datetime import datetime, timezone
from pathlib import Path

from ledger_tools import Checkpoint, Signer, Verifier, open_checkpoint, root_from_leaf_hashes, sign_checkpoint
from ledger_tools.__main__ import main
from ledger_tools.bundle import verify_bundle
from ledger_tools.chain import GENESIS, chain_events, chain_hash, event_leaf_hash, leaf_bytes
from ledger_tools.receipt import cosign_checkpoint, make_proof, make_receipt, proof_json, receipt_json, verify_receipt

DOC = (Path(__file__).resolve().parents[2] / "docs" / "ledger-format.md").read_text()
OID = "6b5b2325-3906-44e4-a203-3eba19254a7e"
TOPIC = "domain.datasets:Dataset.Registered"


def test_the_documented_leaf_chain_and_root_values_are_what_the_code_computes():
    raw = leaf_bytes(OID, 1, TOPIC, b'{"name":"x"}')
    assert len(raw) == 107 and raw.startswith(bytes.fromhex("474c45563100000024"))
    leaf0 = event_leaf_hash(OID, 1, TOPIC, b'{"name":"x"}')
    leaf1 = event_leaf_hash(OID, 2, TOPIC, b"{}")
    chain0 = chain_hash(GENESIS, leaf0)
    chain1 = chain_hash(chain0, leaf1)
    root = root_from_leaf_hashes([leaf0, leaf1])
    for value in (leaf0, chain0, leaf1, chain1, root):
        assert value.hex() in DOC
    assert chain_events(GENESIS, [(OID, 1, TOPIC, b'{"name":"x"}'), (OID, 2, TOPIC, b"{}")]) == [(leaf0, chain0), (leaf1, chain1)]


def test_the_documented_checkpoint_is_what_the_example_key_signs():
    signer = Signer("example.govledger/ledger", bytes(range(32)))
    assert str(signer) in DOC and str(signer.verifier) in DOC
    root = bytes.fromhex("f455d342c6b7cce29f175ad1221fa0f0e1bcd268df6c1e34c8bc79b79aa1826d")
    note = sign_checkpoint(Checkpoint(signer.name, 2, root), signer)
    assert note in DOC
    assert open_checkpoint(note, Verifier.parse(str(signer.verifier))).size == 2


def test_the_documented_bundle_is_one_the_exporter_wrote_and_it_verifies(tmp_path):
    files = dict(re.findall(r"```text file=(\S+)\n(.*?)```", DOC, flags=re.DOTALL))
    assert sorted(files) == ["checkpoint.note", "events.jsonl", "manifest.json", "proofs.jsonl", "verifier.vkey"]
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    report = verify_bundle(tmp_path, files["verifier.vkey"])
    assert (report.first_position, report.last_position, report.tree_size) == (1, 2, 3)
    proofs = [json.loads(line) for line in files["proofs.jsonl"].splitlines()]
    assert [len(base64.b64decode(p["path"])) // 32 for p in proofs] == [2, 1]  # as the page says


LOG_KEY = Signer("example.govledger/ledger", bytes(range(32)))
RECEIPT_KEY = Signer("example.govledger/receipts", bytes(range(32, 64)))


def receipt_example() -> dict[str, str]:
    """The receipt for position 1 of the worked bundle's ledger, and its proof, made as the service makes them."""
    bundle = dict(re.findall(r"```text file=(\S+)\n(.*?)```", DOC, flags=re.DOTALL))
    event = json.loads(bundle["events.jsonl"].splitlines()[0])
    path = base64.b64decode(json.loads(bundle["proofs.jsonl"].splitlines()[0])["path"])
    assert event["position"] == 1
    leaf = event_leaf_hash(event["originator_id"], event["originator_version"], event["topic"],
                           base64.b64decode(event["state"]))
    note = make_receipt(origin=LOG_KEY.name, position=1, leaf_hash=leaf, request_id="req-0001", signer=RECEIPT_KEY,
                        recorded_at=datetime(2026, 11, 22, 11, 47, 43, 230114, tzinfo=timezone.utc))
    checkpoint = cosign_checkpoint(bundle["checkpoint.note"], LOG_KEY.verifier, RECEIPT_KEY)
    proof = make_proof(index=1, hashes=[path[i:i + 32] for i in range(0, len(path), 32)], checkpoint_note=checkpoint)
    return {"receipt.vkey": f"{RECEIPT_KEY.verifier}\n", "receipt.note": note,
            "RECEIPT.json": receipt_json(note, RECEIPT_KEY.verifier), "proof.tlog-proof": proof,
            "PROOF.json": proof_json(proof)}


def test_the_documented_receipt_and_proof_are_what_the_example_keys_make_and_they_verify(tmp_path, capsys):
    documented = dict(re.findall(r"```text example=(\S+)\n(.*?)```", DOC, flags=re.DOTALL))
    expected = receipt_example()
    assert documented == expected, "regenerate with: python -m tests.ledger_tools.test_format_example"
    assert str(RECEIPT_KEY) in DOC
    receipt = verify_receipt(expected["receipt.note"], expected["proof.tlog-proof"], RECEIPT_KEY.verifier,
                             log_key=LOG_KEY.verifier, origin=LOG_KEY.name)
    assert (receipt.position, receipt.request_id) == (1, "req-0001")
    for name, text in documented.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "signing.vkey").write_text(f"{LOG_KEY.verifier}\n")
    status = main(["receipt", str(tmp_path / "RECEIPT.json"), str(tmp_path / "PROOF.json"),
                   "--trusted-key", str(tmp_path / "receipt.vkey"), "--log-key", str(tmp_path / "signing.vkey")])
    out = capsys.readouterr().out
    assert status == 0 and f"```\n{out}```" in DOC  # the verdict the page shows


if __name__ == "__main__":
    for name, text in receipt_example().items():
        sys.stdout.write(f"```text example={name}\n{text}```\n\n")
