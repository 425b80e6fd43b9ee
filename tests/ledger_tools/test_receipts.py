"""Prediction receipts: a customer holding only the receipt key proves the log holds their prediction, or learns it does not.

Each tamper test is one attack on a receipt or its proof, named after it, and refused with a typed error.
"""

from __future__ import annotations

import base64
import json
import random
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger_tools import (
    Checkpoint,
    LedgerToolsError,
    MalformedInputError,
    ProofError,
    RootMismatchError,
    SignatureError,
    Signer,
    VerificationError,
    event_leaf_hash,
    inclusion_proof,
    leaf_hash,
    root_from_leaf_hashes,
    sign_checkpoint,
    sign_note,
)
from ledger_tools.__main__ import main, verify_main
from ledger_tools.receipt import (
    MAX_TEXT,
    Receipt,
    cosign_checkpoint,
    make_proof,
    make_receipt,
    open_receipt,
    parse_proof,
    parse_proof_json,
    parse_receipt_json,
    proof_json,
    receipt_json,
    verify_receipt,
)

from .test_fuzz import FUZZ, any_char, mutated_text
from .test_merkle import mth, path

LOG = Signer("example.govledger/ledger", bytes(range(32)))
RECEIPTS = Signer("example.govledger/receipts", bytes(range(32, 64)))
IMPOSTOR = Signer("example.govledger/receipts", bytes(range(64, 96)))  # the receipt key's name, another key
STRANGER = Signer("example.org/witness", bytes(range(96, 128)))
TIME = datetime(2026, 6, 15, 9, 30, 1, 123456, tzinfo=timezone.utc)
TOPIC = "domain.predictions:Prediction.Recorded"


def prediction(i: int) -> bytes:
    """The leaf hash of the i-th prediction event."""
    return event_leaf_hash(f"0d9c2a6e-1f0b-4c1e-9a53-{i:012d}", 1, TOPIC, b'{"request_id":"req-%d"}' % i)


LEAVES = [prediction(i) for i in range(12)]


def receipt_for(position: int, leaf: bytes | None = None, signer: Signer = RECEIPTS, request: str = "req-1") -> str:
    return make_receipt(origin=LOG.name, position=position, leaf_hash=LEAVES[position] if leaf is None else leaf,
                        recorded_at=TIME, request_id=request, signer=signer)


def log_checkpoint(leaves: list[bytes] = LEAVES, origin: str = LOG.name) -> str:
    """The sealer's checkpoint of `leaves`, signed by the log's key alone."""
    return sign_checkpoint(Checkpoint(origin, len(leaves), root_from_leaf_hashes(leaves)), LOG)


def proof_for(index: int, leaves: list[bytes] = LEAVES, checkpoint: str | None = None) -> str:
    """What the API answers: the inclusion proof of `index` against the log's checkpoint, cosigned by the receipt key."""
    hashes = inclusion_proof(index, len(leaves), lambda a, b: root_from_leaf_hashes(leaves[a:b]))
    note = checkpoint if checkpoint is not None else cosign_checkpoint(log_checkpoint(leaves), LOG.verifier, RECEIPTS)
    return make_proof(index=index, hashes=hashes, checkpoint_note=note)


def verify(receipt: str, proof: str, **kwargs: object) -> Receipt:
    return verify_receipt(receipt, proof, RECEIPTS.verifier, **kwargs)  # type: ignore[arg-type]


def body(note: str) -> str:
    return note[: note.index("\n\n") + 1]


# --- what the service makes, the customer reads back ---

def test_a_receipt_reads_back_as_it_was_made_and_its_note_is_exactly_the_six_lines():
    note = receipt_for(3)
    assert body(note) == (f"govledger.receipt/v1\n{LOG.name}\nposition 3\nleaf {LEAVES[3].hex()}\n"
                          "time 2026-06-15T09:30:01.123456Z\nrequest req-1\n")
    assert open_receipt(note, RECEIPTS.verifier) == Receipt(LOG.name, 3, LEAVES[3], TIME, "req-1")


def test_a_receipt_time_in_another_zone_is_written_in_utc():
    paris = TIME.astimezone(timezone(timedelta(hours=2)))
    note = make_receipt(origin=LOG.name, position=0, leaf_hash=LEAVES[0], recorded_at=paris, request_id="r",
                        signer=RECEIPTS)
    assert "time 2026-06-15T09:30:01.123456Z\n" in note
    assert open_receipt(note, RECEIPTS.verifier).recorded_at == TIME


def test_receipt_json_carries_the_note_and_its_fields_and_gives_the_note_back():
    note = receipt_for(3)
    text = receipt_json(note, RECEIPTS.verifier)
    assert json.loads(text) == {"format": "govledger.receipt/v1", "position": 3, "leaf_hash": LEAVES[3].hex(),
                                "recorded_at": "2026-06-15T09:30:01.123456Z", "request_id": "req-1",
                                "key": RECEIPTS.name, "note": note}
    assert parse_receipt_json(text) == note


def test_a_proof_reads_back_as_it_was_made_with_or_without_extra_data():
    checkpoint = cosign_checkpoint(log_checkpoint(), LOG.verifier, RECEIPTS)
    hashes = inclusion_proof(5, 12, lambda a, b: root_from_leaf_hashes(LEAVES[a:b]))
    for extra in (b"", b"vrf proof"):
        text = make_proof(index=5, hashes=hashes, checkpoint_note=checkpoint, extra=extra)
        proof = parse_proof(text)
        assert (proof.index, proof.hashes, proof.checkpoint_note, proof.extra) == (5, hashes, checkpoint, extra)
        assert parse_proof_json(proof_json(text)) == text
    assert text.startswith("c2sp.org/tlog-proof@v1\nextra dnJmIHByb29m\nindex 5\n")


def test_the_cosigned_checkpoint_is_the_log_note_with_one_more_signature_line_over_the_same_body():
    note = log_checkpoint()
    cosigned = cosign_checkpoint(note, LOG.verifier, RECEIPTS)
    assert cosigned.startswith(note) and cosigned.count("\n— ") == 2
    assert cosigned[len(note):] == sign_note(body(note), RECEIPTS)[len(body(note)) + 1:]


def test_a_receipt_and_its_proof_verify_with_the_receipt_key_alone_or_with_the_log_key_too():
    receipt, proof = receipt_for(3), proof_for(3)
    assert verify(receipt, proof).position == 3
    assert verify(receipt, proof, log_key=LOG.verifier, origin=LOG.name).request_id == "req-1"


@pytest.mark.parametrize("size", [1, 2, 3, 7, 8, 9, 64, 100])
def test_receipts_verify_at_the_first_middle_and_last_position_of_real_trees(size):
    # Random leaves, a proof cut by ledger_tools and checked against one written straight from RFC 9162 §2.1.
    rng = random.Random(size)
    data = [rng.randbytes(rng.randrange(1, 60)) for _ in range(size)]
    leaves = [leaf_hash(d) for d in data]
    assert root_from_leaf_hashes(leaves) == mth(data)
    for index in sorted({0, size // 2, size - 1}):
        proof = proof_for(index, leaves)
        assert parse_proof(proof).hashes == path(index, data)
        assert verify(receipt_for(index, leaves[index]), proof, log_key=LOG.verifier).position == index


# --- attacks ---

def test_a_receipt_for_a_position_the_log_does_not_hold_is_refused():
    # The service answered position 17 but never recorded it; the sealed tree has 12 leaves.
    proof = make_proof(index=17, hashes=[], checkpoint_note=cosign_checkpoint(log_checkpoint(), LOG.verifier, RECEIPTS))
    with pytest.raises(VerificationError, match="position 17 is beyond the checkpoint's tree size 12: the log does not hold it"):
        verify(receipt_for(17, prediction(17)), proof)
    with pytest.raises(VerificationError, match="position 12 is beyond the checkpoint's tree size 12"):
        verify(receipt_for(12, prediction(12)), make_proof(index=12, hashes=[], checkpoint_note=parse_proof(proof).checkpoint_note))


def test_a_receipt_whose_event_was_altered_in_the_log_is_refused():
    # The log holds another event at position 5 than the one the customer was given a receipt for.
    altered = [*LEAVES[:5], event_leaf_hash("0d9c2a6e-1f0b-4c1e-9a53-000000000005", 1, TOPIC, b'{"score":0.1}'),
               *LEAVES[6:]]
    with pytest.raises(RootMismatchError, match="the leaf at position 5 is not the receipt's: the event was altered or replaced"):
        verify(receipt_for(5), proof_for(5, altered))


def test_a_dropped_prediction_whose_position_now_holds_the_next_one_is_refused():
    dropped = [*LEAVES[:5], *LEAVES[6:], prediction(12)]  # event 5 never reached the log: 6 took its place
    with pytest.raises(RootMismatchError, match="the leaf at position 5 is not the receipt's"):
        verify(receipt_for(5), proof_for(5, dropped))


def test_a_proof_for_another_index_is_refused():
    with pytest.raises(VerificationError, match="the proof is for position 4, the receipt for position 5"):
        verify(receipt_for(5), proof_for(4))


def test_a_proof_for_another_index_relabelled_as_the_receipts_is_refused():
    relabelled = proof_for(4).replace("\nindex 4\n", "\nindex 5\n")
    with pytest.raises(RootMismatchError, match="the leaf at position 5 is not the receipt's"):
        verify(receipt_for(5), relabelled)


def test_a_proof_with_a_hash_flipped_is_refused():
    proof = parse_proof(proof_for(5))
    for i in range(len(proof.hashes)):
        flipped = [h if j != i else bytes([h[0] ^ 1]) + h[1:] for j, h in enumerate(proof.hashes)]
        with pytest.raises(RootMismatchError):
            verify(receipt_for(5), make_proof(index=5, hashes=flipped, checkpoint_note=proof.checkpoint_note))


@pytest.mark.parametrize("cut", [slice(1, None), slice(None, -1)], ids=["a hash dropped", "the root's child dropped"])
def test_a_proof_with_a_hash_missing_or_added_is_refused(cut):
    proof = parse_proof(proof_for(5))
    for hashes in (proof.hashes[cut], [*proof.hashes, proof.hashes[0]]):
        with pytest.raises(ProofError, match="inclusion proof of position 5"):
            verify(receipt_for(5), make_proof(index=5, hashes=hashes, checkpoint_note=proof.checkpoint_note))


@pytest.mark.parametrize("cosigner", [IMPOSTOR, STRANGER], ids=["same name, another key", "another name"])
def test_a_checkpoint_cosigned_by_another_key_is_refused(cosigner):
    checkpoint = cosign_checkpoint(log_checkpoint(), LOG.verifier, cosigner)
    with pytest.raises(SignatureError, match="the proof's checkpoint, under the receipt key: note carries no signature"):
        verify(receipt_for(5), proof_for(5, checkpoint=checkpoint))


def test_a_cosignature_that_claims_the_receipt_key_but_does_not_verify_is_refused():
    cosigned = cosign_checkpoint(log_checkpoint(), LOG.verifier, RECEIPTS)
    line = cosigned.rstrip("\n").rsplit(" ", 1)[1]
    raw = bytearray(base64.b64decode(line))
    raw[10] ^= 1
    forged = cosigned.replace(line, base64.b64encode(bytes(raw)).decode())
    with pytest.raises(SignatureError, match="does not verify"):
        verify(receipt_for(5), proof_for(5, checkpoint=forged))


def test_a_receipt_signed_by_another_key_is_refused():
    with pytest.raises(SignatureError, match="the receipt: note carries no signature by example.govledger/receipts"):
        verify(receipt_for(5, signer=IMPOSTOR), proof_for(5))


def test_a_receipt_edited_after_it_was_signed_is_refused():
    edited = receipt_for(5).replace("request req-1\n", "request req-2\n")
    with pytest.raises(SignatureError, match="the receipt: signature by .* does not verify"):
        verify(edited, proof_for(5))


def test_a_checkpoint_the_log_signed_but_the_receipt_key_did_not_cosign_is_refused():
    with pytest.raises(SignatureError, match="under the receipt key: note carries no signature"):
        verify(receipt_for(5), proof_for(5, checkpoint=log_checkpoint()))


def test_an_unsigned_checkpoint_is_refused():
    unsigned = Checkpoint(LOG.name, 12, root_from_leaf_hashes(LEAVES)).text() + "\n"  # the blank line, no signature
    hashes = parse_proof(proof_for(5)).hashes
    text = "c2sp.org/tlog-proof@v1\nindex 5\n" + "".join(base64.b64encode(h).decode() + "\n" for h in hashes)
    with pytest.raises(MalformedInputError, match="checkpoint, under the receipt key: signed note has no signature lines"):
        verify(receipt_for(5), text + "\n" + unsigned)
    with pytest.raises(MalformedInputError):
        verify(receipt_for(5), text + "\n" + unsigned[:-1])  # no blank line either


def test_a_checkpoint_the_receipt_key_signed_without_the_log_is_refused_when_the_log_key_is_pinned():
    # The receipt key alone can vouch for anything: a customer who holds the log's key need not trust it alone.
    forged = sign_checkpoint(Checkpoint(LOG.name, 12, root_from_leaf_hashes(LEAVES)), RECEIPTS)
    assert verify(receipt_for(5), proof_for(5, checkpoint=forged)).position == 5
    with pytest.raises(SignatureError, match="under the log's key: note carries no signature by example.govledger/ledger"):
        verify(receipt_for(5), proof_for(5, checkpoint=forged), log_key=LOG.verifier)


def test_a_checkpoint_of_another_log_is_refused():
    other = sign_checkpoint(Checkpoint("example.org/other-log", 12, root_from_leaf_hashes(LEAVES)), LOG)
    with pytest.raises(VerificationError, match="the checkpoint is of the log 'example.org/other-log'"):
        verify(receipt_for(5), proof_for(5, checkpoint=cosign_checkpoint(other, LOG.verifier, RECEIPTS)))
    with pytest.raises(VerificationError, match="the receipt is for the log 'example.govledger/ledger', not 'x/y'"):
        verify(receipt_for(5), proof_for(5), origin="x/y")


def test_the_service_cosigns_only_checkpoints_the_log_signed_and_only_with_a_key_of_its_own():
    forged = sign_checkpoint(Checkpoint(LOG.name, 12, root_from_leaf_hashes(LEAVES)), STRANGER)
    with pytest.raises(SignatureError):
        cosign_checkpoint(forged, LOG.verifier, RECEIPTS)
    with pytest.raises(MalformedInputError, match="must be its own key"):
        cosign_checkpoint(log_checkpoint(), LOG.verifier, LOG)
    with pytest.raises(MalformedInputError, match="already carries a signature named"):
        cosign_checkpoint(cosign_checkpoint(log_checkpoint(), LOG.verifier, RECEIPTS), LOG.verifier, RECEIPTS)
    with pytest.raises(MalformedInputError, match="origin cannot be"):
        cosign_checkpoint(log_checkpoint(origin="govledger.receipt/v1"), LOG.verifier, RECEIPTS)


# --- strict encodings: one note, one reading ---

GOOD_BODY = body(receipt_for(5))


@pytest.mark.parametrize(("attack", "old", "new"), [
    ("a position with a leading zero", "position 5\n", "position 05\n"),
    ("a position in Arabic-Indic digits", "position 5\n", "position \u0665\n"),
    ("a negative position", "position 5\n", "position -5\n"),
    ("a position past 2^64", "position 5\n", f"position {1 << 64}\n"),
    ("an uppercase leaf hash", LEAVES[5].hex(), LEAVES[5].hex().upper()),
    ("a 31-byte leaf hash", LEAVES[5].hex(), LEAVES[5].hex()[:62]),
    ("a time without microseconds", "09:30:01.123456Z", "09:30:01Z"),
    ("a time with an offset", "09:30:01.123456Z", "09:30:01.123456+00:00"),
    ("a time with a lowercase z", "09:30:01.123456Z", "09:30:01.123456z"),
    ("a date that does not exist", "2026-06-15", "2026-02-30"),
    ("a leap second", "09:30:01.", "23:59:60."),
    ("a request id with a space", "request req-1", "request req 1"),
    ("a request id of 201 characters", "request req-1", "request " + "r" * 201),
    ("a non-ASCII request id", "request req-1", "request req-\u00e9"),
    ("an empty request id", "request req-1", "request "),
    ("a trailing space", "request req-1\n", "request req-1 \n"),
    ("a double space", "position 5", "position  5"),
    ("CRLF line endings", "\n", "\r\n"),
    ("a NUL", "req-1", "req\x00-1"),
    ("a seventh line", "request req-1\n", "request req-1\nprice 0\n"),
    ("lines swapped", f"position 5\nleaf {LEAVES[5].hex()}\n", f"leaf {LEAVES[5].hex()}\nposition 5\n"),
    ("another format version", "govledger.receipt/v1\n", "govledger.receipt/v2\n"),
    ("an origin with a trailing space", f"{LOG.name}\n", f"{LOG.name} \n"),
    ("an origin with a bidi override", f"{LOG.name}\n", f"{LOG.name}\u202e\n"),
])
def test_a_receipt_in_any_but_its_one_spelling_is_refused_though_validly_signed(attack, old, new):
    tampered = GOOD_BODY.replace(old, new)
    assert tampered != GOOD_BODY
    with pytest.raises(MalformedInputError):
        open_receipt(sign_note(tampered, RECEIPTS), RECEIPTS.verifier)
    with pytest.raises(MalformedInputError):
        Receipt.parse(tampered)


GOOD_PROOF = proof_for(5)
FIRST_HASH = GOOD_PROOF.split("\n")[2]


def noncanonical(b64: str) -> str:
    """The same bytes in base64 with a non-zero pad bit."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    stem = b64.rstrip("=")
    return stem[:-1] + alphabet[alphabet.index(stem[-1]) + 1] + b64[len(stem):]


@pytest.mark.parametrize(("attack", "old", "new"), [
    ("a hash in non-canonical base64", FIRST_HASH, noncanonical(FIRST_HASH)),
    ("a hash in URL-safe base64", FIRST_HASH, FIRST_HASH.replace("+", "-").replace("/", "_") + "-"),
    ("a hash without padding", FIRST_HASH, FIRST_HASH.rstrip("=")),
    ("a hash of 33 bytes", FIRST_HASH, base64.b64encode(base64.b64decode(FIRST_HASH) + b"!").decode()),
    ("an index with a leading zero", "\nindex 5\n", "\nindex 05\n"),
    ("an index in full-width digits", "\nindex 5\n", "\nindex \uff15\n"),
    ("an uppercase index line", "\nindex 5\n", "\nIndex 5\n"),
    ("a missing index line", "\nindex 5\n", "\n"),
    ("an extra line before the index", "@v1\n", "@v1\nnote hello\n"),
    ("an empty extra line", "@v1\n", "@v1\nextra \n"),
    ("another first line", "c2sp.org/tlog-proof@v1\n", "c2sp.org/tlog-proof@v2\n"),
    ("CRLF line endings", "\n", "\r\n"),
    ("a trailing space on a hash line", FIRST_HASH + "\n", FIRST_HASH + " \n"),
    ("a trailing space on the index line", "\nindex 5\n", "\nindex 5 \n"),
    ("a NUL", "index 5", "index 5\x00"),
    ("65 hashes", FIRST_HASH + "\n", (FIRST_HASH + "\n") * 65),
    ("a checkpoint size with a leading zero", "\n\nexample.govledger/ledger\n12\n", "\n\nexample.govledger/ledger\n012\n"),
    ("no checkpoint", GOOD_PROOF[GOOD_PROOF.index("\n\n") + 2:], ""),
])
def test_a_proof_in_any_but_its_one_spelling_is_refused(attack, old, new):
    tampered = GOOD_PROOF.replace(old, new, 1) if attack != "CRLF line endings" else GOOD_PROOF.replace(old, new)
    assert tampered != GOOD_PROOF
    with pytest.raises(MalformedInputError):
        parse_proof(tampered)
    with pytest.raises(MalformedInputError):
        verify(receipt_for(5), tampered)


GOOD_JSON = json.loads(receipt_json(receipt_for(5), RECEIPTS.verifier))


@pytest.mark.parametrize(("attack", "field", "value"), [
    ("another position beside the note", "position", 6),
    ("the position as text", "position", "5"),
    ("the position as a float", "position", 5.0),
    ("an uppercase leaf hash", "leaf_hash", LEAVES[5].hex().upper()),
    ("another leaf hash", "leaf_hash", LEAVES[6].hex()),
    ("another time", "recorded_at", "2026-06-15T09:30:02.123456Z"),
    ("another request", "request_id", "req-2"),
    ("a key that signed nothing", "key", "example.org/someone-else"),
])
def test_receipt_json_whose_fields_disagree_with_its_signed_note_is_refused(attack, field, value):
    with pytest.raises(VerificationError, match=f"RECEIPT.json's {field}|names the key"):
        parse_receipt_json(json.dumps({**GOOD_JSON, field: value}))


@pytest.mark.parametrize(("attack", "text"), [
    ("an extra field", json.dumps({**GOOD_JSON, "verified": True})),
    ("a missing field", json.dumps({k: v for k, v in GOOD_JSON.items() if k != "key"})),
    ("another format", json.dumps({**GOOD_JSON, "format": "govledger.receipt/v2"})),
    ("a repeated key", json.dumps(GOOD_JSON)[:-1] + ', "position": 6}'),
    ("NaN", json.dumps({**GOOD_JSON, "position": float("nan")})),
    ("a list", json.dumps([GOOD_JSON])),
    ("a note that is not text", json.dumps({**GOOD_JSON, "note": 5})),
    ("a note with CRLF", json.dumps({**GOOD_JSON, "note": GOOD_JSON["note"].replace("\n", "\r\n")})),
    ("a note with a lone surrogate", json.dumps({**GOOD_JSON, "note": GOOD_JSON["note"] + "\ud800"})),
    ("JSON nested a million deep", '{"format": ' + "[" * 1_000_000),
    ("a position of 5000 digits", json.dumps(GOOD_JSON).replace('"position": 5', '"position": ' + "9" * 5000)),
])
def test_malformed_receipt_json_is_refused(attack, text):
    with pytest.raises(MalformedInputError):
        parse_receipt_json(text)


@pytest.mark.parametrize("text", [
    json.dumps({"format": "c2sp.org/tlog-proof@v1"}),
    json.dumps({"format": "c2sp.org/tlog-proof@v1", "proof": 5}),
    json.dumps({"format": "c2sp.org/tlog-proof@v2", "proof": GOOD_PROOF}),
    json.dumps({"format": "c2sp.org/tlog-proof@v1", "proof": GOOD_PROOF, "index": 5}),
    GOOD_PROOF,  # raw text is not JSON: the CLI tells the two apart by the first line
])
def test_malformed_proof_json_is_refused(text):
    with pytest.raises(MalformedInputError):
        parse_proof_json(text)


@pytest.mark.parametrize("empty", ["", "\n", "\n\n", " ", None, b"", 0])
def test_empty_input_is_refused_everywhere(empty):
    for check in (lambda: open_receipt(empty, RECEIPTS.verifier), lambda: parse_proof(empty),  # type: ignore[arg-type]
                  lambda: parse_receipt_json(empty), lambda: parse_proof_json(empty),  # type: ignore[arg-type]
                  lambda: verify(empty, GOOD_PROOF), lambda: verify(receipt_for(5), empty),  # type: ignore[arg-type]
                  lambda: cosign_checkpoint(empty, LOG.verifier, RECEIPTS)):  # type: ignore[arg-type]
        with pytest.raises(MalformedInputError):
            check()


def test_huge_inputs_are_refused_before_they_are_parsed():
    huge = "x" * (MAX_TEXT + 1)
    for check, text in ((lambda t: open_receipt(t, RECEIPTS.verifier), receipt_for(5) + huge),
                        (parse_proof, GOOD_PROOF.replace("\n\n", "\n" + (FIRST_HASH + "\n") * 5000 + "\n", 1)),
                        (parse_receipt_json, json.dumps({**GOOD_JSON, "note": GOOD_JSON["note"] + huge})),
                        (parse_receipt_json, " " * (2 << 20)),
                        (parse_proof_json, json.dumps({"format": "c2sp.org/tlog-proof@v1", "proof": huge}))):
        with pytest.raises(MalformedInputError, match="longer than"):
            check(text)  # type: ignore[operator]


@pytest.mark.parametrize(("attack", "kwargs"), [
    ("a naive time", {"recorded_at": TIME.replace(tzinfo=None)}),
    ("a leaf hash of 31 bytes", {"leaf_hash": bytes(31)}),
    ("a leaf hash as hex text", {"leaf_hash": LEAVES[5].hex()}),
    ("a negative position", {"position": -1}),
    ("a boolean position", {"position": True}),
    ("a request id with a newline", {"request_id": "a\nb"}),
    ("an origin of two lines", {"origin": "a\nposition 6"}),
    ("an empty origin", {"origin": ""}),
])
def test_the_service_cannot_sign_a_receipt_a_customer_could_not_read(attack, kwargs):
    args = {"origin": LOG.name, "position": 5, "leaf_hash": LEAVES[5], "recorded_at": TIME, "request_id": "r",
            "signer": RECEIPTS, **kwargs}
    with pytest.raises(MalformedInputError):
        make_receipt(**args)  # type: ignore[arg-type]


def test_the_service_cannot_make_a_proof_a_customer_could_not_read():
    checkpoint = cosign_checkpoint(log_checkpoint(), LOG.verifier, RECEIPTS)
    for kwargs in ({"index": -1}, {"index": 1 << 64}, {"hashes": [bytes(31)]}, {"hashes": [bytes(32)] * 65},
                   {"checkpoint_note": "not a note\n"}, {"checkpoint_note": checkpoint.replace("\n", "\r\n")}):
        with pytest.raises(MalformedInputError):
            make_proof(**{"index": 5, "hashes": [], "checkpoint_note": checkpoint, **kwargs})  # type: ignore[arg-type]


# --- fuzz: nothing but ledger_tools' own error ---

def refused_or_held(check: object, *args: object, **kwargs: object) -> None:
    try:
        check(*args, **kwargs)  # type: ignore[operator]
    except LedgerToolsError:
        pass


@FUZZ
@given(st.one_of(st.text(any_char), mutated_text(receipt_for(5)), mutated_text(GOOD_PROOF),
                 mutated_text(json.dumps(GOOD_JSON)), mutated_text(proof_json(GOOD_PROOF))))
def test_no_text_makes_the_receipt_parsers_raise_anything_but_their_own_error(text):
    refused_or_held(open_receipt, text, RECEIPTS.verifier)
    refused_or_held(Receipt.parse, text)
    refused_or_held(Receipt.parse, text.split("\n\n")[0] + "\n")
    refused_or_held(parse_proof, text)
    refused_or_held(parse_receipt_json, text)
    refused_or_held(parse_proof_json, text)
    refused_or_held(verify, text, GOOD_PROOF, log_key=LOG.verifier)
    refused_or_held(verify, receipt_for(5), text, log_key=LOG.verifier)
    refused_or_held(cosign_checkpoint, text, LOG.verifier, RECEIPTS)


@FUZZ
@given(st.sampled_from(sorted(GOOD_JSON)), st.one_of(st.none(), st.booleans(), st.integers(), st.floats(),
                                                      st.text(any_char, max_size=20), st.lists(st.integers(), max_size=2)))
def test_no_json_value_in_any_receipt_field_makes_the_parser_raise_anything_but_its_own_error(field, value):
    refused_or_held(parse_receipt_json, json.dumps({**GOOD_JSON, field: value}))


# --- the CLI ---

@pytest.fixture
def customer(tmp_path: Path) -> Path:
    """A customer's folder: the receipt and proof as the API answered them, and the keys they were given."""
    (tmp_path / "RECEIPT.json").write_text(receipt_json(receipt_for(5, request="req-5"), RECEIPTS.verifier))
    (tmp_path / "PROOF.json").write_text(proof_json(GOOD_PROOF))
    (tmp_path / "receipt.note").write_text(receipt_for(5, request="req-5"))
    (tmp_path / "proof.tlog-proof").write_text(GOOD_PROOF)
    (tmp_path / "receipts.vkey").write_text(f"{RECEIPTS.verifier}\n")
    (tmp_path / "log.vkey").write_text(f"{LOG.verifier}\n")
    (tmp_path / "impostor.vkey").write_text(f"{IMPOSTOR.verifier}\n")
    (tmp_path / "ALTERED.json").write_text(proof_json(proof_for(5, [*LEAVES[:5], prediction(99), *LEAVES[6:]])))
    (tmp_path / "garbage").write_bytes(b"\xff\xfe\x00 not a receipt")
    return tmp_path


def run(customer: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        status = main(["receipt", *(str(customer / a) if not a.startswith("-") else a for a in args)])
    except SystemExit as usage:  # argparse refuses a bad command line by exiting
        status = usage.code  # type: ignore[assignment]
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize("files", [("RECEIPT.json", "PROOF.json"), ("receipt.note", "proof.tlog-proof")])
def test_the_cli_says_ok_for_a_receipt_the_log_holds(customer, capsys, files):
    status, out, err = run(customer, capsys, *files, "--trusted-key", "receipts.vkey")
    root = base64.b64encode(root_from_leaf_hashes(LEAVES)).decode()
    assert (status, err) == (0, "")
    assert out.splitlines()[0] == f"OK: receipt for request req-5 at position 5 is in the log (tree size 12, root {root})"
    assert out.splitlines()[-1].startswith("NOT CHECKED: the log's own signature")
    status, out, _ = run(customer, capsys, *files, "--trusted-key", "receipts.vkey", "--log-key", "log.vkey")
    assert status == 0 and out.splitlines()[-1].startswith("OK: the checkpoint is signed by the log's key")


@pytest.mark.parametrize(("args", "expected"), [
    (("RECEIPT.json", "ALTERED.json", "--trusted-key", "receipts.vkey"), 1),
    (("RECEIPT.json", "PROOF.json", "--trusted-key", "impostor.vkey"), 1),
    (("RECEIPT.json", "PROOF.json", "--trusted-key", "receipts.vkey", "--log-key", "impostor.vkey"), 1),
    (("garbage", "PROOF.json", "--trusted-key", "receipts.vkey"), 2),
    (("RECEIPT.json", "garbage", "--trusted-key", "receipts.vkey"), 2),
    (("PROOF.json", "RECEIPT.json", "--trusted-key", "receipts.vkey"), 2),
    (("RECEIPT.json", "PROOF.json", "--trusted-key", "garbage"), 2),
    (("RECEIPT.json", "absent.json", "--trusted-key", "receipts.vkey"), 2),
    (("RECEIPT.json", "PROOF.json"), 2),
    (("RECEIPT.json",), 2),
])
def test_the_cli_exits_1_on_a_failed_check_and_2_on_unusable_input_with_one_line(customer, capsys, args, expected):
    status, out, err = run(customer, capsys, *args)
    assert (status, out) == (expected, "")
    assert len(err.splitlines()) == 1 and err.startswith("FAIL: " if expected == 1 else "error: "), err


def test_ledger_verify_receipt_runs_the_receipt_check(customer, capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["ledger-verify", "receipt", str(customer / "RECEIPT.json"),
                                      str(customer / "PROOF.json"), "--trusted-key", str(customer / "receipts.vkey")])
    with pytest.raises(SystemExit) as exit_:
        verify_main()
    assert exit_.value.code == 0 and capsys.readouterr().out.startswith("OK: receipt for request req-5 at position 5")
