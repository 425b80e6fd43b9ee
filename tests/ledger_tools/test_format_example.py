"""The worked example of docs/ledger-format.md holds, byte for byte, and its example bundle verifies."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

from ledger_tools import Checkpoint, Signer, Verifier, open_checkpoint, root_from_leaf_hashes, sign_checkpoint
from ledger_tools.bundle import verify_bundle
from ledger_tools.chain import GENESIS, chain_events, chain_hash, event_leaf_hash, leaf_bytes

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
