"""Fuzzing: no input of any kind makes the bundle reader or the note parsers raise anything but ledger_tools' own error."""

from __future__ import annotations

import io
import json
import tarfile
import tempfile
import zipfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger_tools import Checkpoint, LedgerToolsError, Signer, Verifier, open_checkpoint, open_note
from ledger_tools.bundle import verify_bundle

from .bundles import SIGNER, bundle_files, manifest_of, with_manifest, write

KEY = str(SIGNER.verifier)
FILES = bundle_files()
NOTE = FILES["checkpoint.note"].decode()
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

any_char = st.characters(exclude_categories=())  # surrogates and control characters included
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(any_char, max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=6)


@st.composite
def mutated_text(draw: st.DrawFn, text: str) -> str:
    """`text` with a few characters inserted, deleted or replaced: near-valid input reaches the deepest checks."""
    chars = list(text)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(chars)))
        op = draw(st.sampled_from(["insert", "delete", "replace"]))
        if op == "insert":
            chars.insert(at, draw(any_char))
        elif chars and at < len(chars):
            if op == "delete":
                del chars[at]
            else:
                chars[at] = draw(any_char)
    return "".join(chars)


def holds_or_refuses(check: object, *args: object, **kwargs: object) -> None:
    try:
        check(*args, **kwargs)  # type: ignore[operator]
    except LedgerToolsError:
        pass


@FUZZ
@given(st.one_of(st.text(any_char), mutated_text(NOTE)))
def test_no_text_makes_the_note_and_checkpoint_parsers_raise_anything_but_their_own_error(text):
    holds_or_refuses(open_note, text, SIGNER.verifier)
    holds_or_refuses(open_checkpoint, text, SIGNER.verifier, origin=SIGNER.name)
    holds_or_refuses(Checkpoint.parse, text)
    holds_or_refuses(Checkpoint.parse, text.split("\n\n")[0] + "\n")


@FUZZ
@given(st.one_of(st.text(any_char), mutated_text(KEY), mutated_text(str(SIGNER))))
def test_no_text_makes_the_key_parsers_raise_anything_but_their_own_error(text):
    holds_or_refuses(Verifier.parse, text)
    holds_or_refuses(Signer.parse, text)


def verify_files(files: dict[str, bytes]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        holds_or_refuses(verify_bundle, write(Path(tmp) / "b", files), KEY, held_checkpoint=NOTE)


@FUZZ
@given(st.sampled_from(sorted(FILES)), st.data(), st.booleans())
def test_no_change_to_a_bundle_file_makes_the_verifier_raise_anything_but_its_own_error(name, data, rehash):
    raw = FILES[name]
    mutated = data.draw(st.one_of(
        st.binary(max_size=200),
        mutated_text(raw.decode()).map(lambda t: t.encode("utf-8", "surrogatepass")),
        st.integers(0, len(raw)).map(lambda n: raw[:n]),
    ))
    files = {**FILES, name: mutated}
    verify_files(with_manifest(files, manifest_of(FILES)) if rehash and name != "manifest.json" else files)


@FUZZ
@given(st.sampled_from(["events.jsonl", "proofs.jsonl", "manifest.json", "selection", "consistency.json"]),
       st.data(), json_values)
def test_no_json_value_in_any_field_makes_the_verifier_raise_anything_but_its_own_error(where, data, value):
    if where == "consistency.json":
        files = {**FILES, "consistency.json": json.dumps({"old_size": value, "proof": [value]}).encode()}
        verify_files(with_manifest(files, manifest_of(FILES)))
        return
    if where in ("manifest.json", "selection"):
        manifest = manifest_of(FILES)
        target = manifest if where == "manifest.json" else manifest["selection"]
        target[data.draw(st.sampled_from(sorted(target)))] = value  # type: ignore[index]
        verify_files(with_manifest(FILES, manifest))
        return
    lines = FILES[where].splitlines()
    record = json.loads(lines[0])
    record[data.draw(st.sampled_from(sorted(record)))] = value
    lines[0] = json.dumps(record).encode("utf-8", "surrogatepass")
    verify_files(with_manifest({**FILES, where: b"\n".join(lines) + b"\n"}, manifest_of(FILES)))


def archive(kind: str) -> bytes:
    out = io.BytesIO()
    if kind == "tar.gz":
        with tarfile.open(fileobj=out, mode="w:gz") as tar:
            for name, data in sorted(FILES.items()):
                info = tarfile.TarInfo(f"bundle/{name}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    else:
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            for name, data in sorted(FILES.items()):
                z.writestr(f"bundle/{name}", data)
    return out.getvalue()


ARCHIVES = {kind: archive(kind) for kind in ("tar.gz", "zip")}


@FUZZ
@given(st.sampled_from(sorted(ARCHIVES)), st.data())
def test_no_archive_bytes_make_the_bundle_reader_raise_anything_but_its_own_error(kind, data):
    raw = ARCHIVES[kind]
    flips = data.draw(st.lists(st.tuples(st.integers(0, len(raw) - 1), st.integers(1, 255)), max_size=4))
    mutated = bytearray(raw)
    for at, mask in flips:
        mutated[at] ^= mask
    candidate = data.draw(st.one_of(st.just(bytes(mutated)), st.binary(max_size=300),
                                    st.integers(0, len(raw)).map(lambda n: raw[:n])))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"b.{kind}"
        path.write_bytes(candidate)
        holds_or_refuses(verify_bundle, path, KEY)
