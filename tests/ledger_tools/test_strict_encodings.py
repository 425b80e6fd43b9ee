"""Every encoding is checked in its one canonical spelling, and no input makes ledger_tools raise anything but its own error."""

from __future__ import annotations

import base64
import io
import json
import tarfile
import zipfile
from pathlib import Path

import pytest

from ledger_tools import Checkpoint, LedgerToolsError, MalformedInputError, Verifier, open_checkpoint, sign_checkpoint
from ledger_tools.bundle import BundleError, verify_bundle

from .bundles import SIGNER, bundle_files, manifest_of, with_manifest, write

KEY = str(SIGNER.verifier)
ROOT = bytes(range(32))


def first_event_changed(replace: tuple[bytes, bytes]) -> dict[str, bytes]:
    files = bundle_files()
    lines = files["events.jsonl"].splitlines(keepends=True)
    assert replace[0] in lines[0]
    lines[0] = lines[0].replace(*replace)
    return with_manifest({**files, "events.jsonl": b"".join(lines)}, manifest_of(files))


def noncanonical(b64: str) -> str:
    """The same bytes in base64 with a non-zero pad bit: decoders that do not check accept it."""
    stem = b64.rstrip("=")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    return stem[:-1] + alphabet[alphabet.index(stem[-1]) + 1] + b64[len(stem):]


def test_a_bundle_built_from_the_format_page_alone_verifies(tmp_path):
    assert verify_bundle(write(tmp_path / "b", bundle_files()), KEY).events == 4


STATE0 = base64.b64encode(b'{"i":1}')


@pytest.mark.parametrize(("attack", "replace"), [
    ("a float version", (b'"originator_version": 1', b'"originator_version": 1.0')),
    ("a boolean version", (b'"originator_version": 1', b'"originator_version": true')),
    ("a boolean position", (b'"position": 1', b'"position": true')),
    ("a float position", (b'"position": 1', b'"position": 1.0')),
    ("a version as text", (b'"originator_version": 1', b'"originator_version": "1"')),
    ("a NaN version", (b'"originator_version": 1', b'"originator_version": NaN')),
    ("a version of 5000 digits", (b'"originator_version": 1', b'"originator_version": ' + b"9" * 5000)),
    ("a repeated key", (b'"position": 1', b'"position": 1, "position": 1')),
    ("an uppercase leaf hash", (b'"leaf_hash": "48', b'"leaf_hash": "4'.upper() + b"8")),
    ("a state with a non-zero pad bit", (STATE0, noncanonical(STATE0.decode()).encode())),
    ("a state in the URL-safe alphabet", (STATE0, STATE0.replace(b"J", b"-"))),
    ("a state with a newline", (STATE0, STATE0[:4] + b"\\n" + STATE0[4:])),
    ("a lone surrogate in the id", (b'"originator_id": "6b5b', b'"originator_id": "\\ud8006b5b')),
    ("an extra field", (b'"position": 1', b'"position": 1, "note": "x"')),
    ("a JSON nested a million deep", (b'"topic": "domain', b'"topic": ' + b"[" * 1_000_000 + b'"domain')),
])
def test_a_bundle_with_a_non_canonical_event_encoding_is_refused_with_a_typed_error(tmp_path, attack, replace):
    with pytest.raises(BundleError):
        verify_bundle(write(tmp_path / "b", first_event_changed(replace)), KEY)


def test_an_uppercase_leaf_hash_is_refused_though_it_names_the_same_bytes(tmp_path):
    files = bundle_files()
    event = json.loads(files["events.jsonl"].splitlines()[0])
    upper = files["events.jsonl"].replace(event["leaf_hash"].encode(), event["leaf_hash"].upper().encode())
    with pytest.raises(BundleError, match="lowercase hex"):
        verify_bundle(write(tmp_path / "b", with_manifest({**files, "events.jsonl": upper}, manifest_of(files))), KEY)


def test_two_events_on_one_line_are_refused(tmp_path):
    files = bundle_files()
    lines = files["events.jsonl"].splitlines(keepends=True)
    joined = lines[0].rstrip(b"\n") + b"," + b"".join(lines[1:])
    with pytest.raises(BundleError, match="one JSON object per line"):
        verify_bundle(write(tmp_path / "b", with_manifest({**files, "events.jsonl": joined}, manifest_of(files))), KEY)


def note(size: str = "6", root: str = base64.b64encode(ROOT).decode(), origin: str = SIGNER.name) -> str:
    """A checkpoint note signed by the real key over whatever body it is given."""
    body = f"{origin}\n{size}\n{root}\n"
    signature = base64.b64encode(SIGNER.verifier.id + SIGNER.sign(body.encode())).decode()
    return f"{body}\n\u2014 {SIGNER.name} {signature}\n"


@pytest.mark.parametrize(("attack", "text"), [
    ("fullwidth digits", note(size="\uff16")),
    ("Arabic-Indic digits", note(size="\u0666")),
    ("a superscript digit", note(size="\u00b2")),
    ("a leading zero", note(size="06")),
    ("a sign", note(size="+6")),
    ("a size beyond uint64", note(size=str(1 << 64))),
    ("a root with a non-zero pad bit", note(root=noncanonical(base64.b64encode(ROOT).decode()))),
    ("a carriage return", note(origin=SIGNER.name + "\r")),
    ("a NUL", note(origin=SIGNER.name + "\x00")),
    ("a tab", note(origin="a\tb")),
    ("a lone surrogate", note().replace("example", "\ud800example", 1)),
])
def test_a_signed_checkpoint_with_a_non_canonical_encoding_is_refused(attack, text):
    with pytest.raises(MalformedInputError):
        open_checkpoint(text, SIGNER.verifier)


def test_a_verifier_key_with_an_uppercase_id_is_refused():
    name, key_id, key = KEY.split("+", 2)
    with pytest.raises(MalformedInputError, match="lowercase"):
        Verifier.parse(f"{name}+{key_id.upper()}+{key}")
    assert Verifier.parse(KEY) == SIGNER.verifier


def test_the_canonical_checkpoint_still_opens():
    assert open_checkpoint(sign_checkpoint(Checkpoint(SIGNER.name, 6, ROOT), SIGNER), SIGNER.verifier).size == 6


# Archives: exactly the bundle's regular files, nothing else, and bounded sizes.

def tar(path: Path, entries: list[tarfile.TarInfo | tuple[str, bytes]]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for entry in entries:
            if isinstance(entry, tarfile.TarInfo):
                archive.addfile(entry)
            else:
                info = tarfile.TarInfo(entry[0])
                info.size = len(entry[1])
                archive.addfile(info, io.BytesIO(entry[1]))
    return path


def special(name: str, kind: bytes, target: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


def members(files: dict[str, bytes]) -> list[tuple[str, bytes]]:
    return [(f"bundle/{name}", data) for name, data in sorted(files.items())]


def test_a_tar_bundle_as_the_exporter_writes_it_verifies(tmp_path):
    assert verify_bundle(tar(tmp_path / "b.tar.gz", members(bundle_files())), KEY).events == 4


@pytest.mark.parametrize(("attack", "extra"), [
    ("a symlink", special("bundle/consistency.json", tarfile.SYMTYPE, "/etc/passwd")),
    ("a hard link", special("bundle/consistency.json", tarfile.LNKTYPE, "bundle/manifest.json")),
    ("a character device", special("bundle/consistency.json", tarfile.CHRTYPE)),
    ("a fifo", special("bundle/consistency.json", tarfile.FIFOTYPE)),
    ("a stray file", ("bundle/notes.txt", b"hello")),
    ("a path traversal", ("bundle/../consistency.json", b"{}")),
    ("an absolute path", ("/bundle/consistency.json", b"{}")),
    ("a file outside the top folder", ("consistency.json", b"{}")),
    ("a sub-folder", special("bundle/sub", tarfile.DIRTYPE)),
    ("a repeated file", ("bundle/checkpoint.note", b"x")),
])
def test_a_tar_bundle_with_anything_but_its_regular_files_is_refused(tmp_path, attack, extra):
    with pytest.raises(BundleError):
        verify_bundle(tar(tmp_path / "b.tar.gz", [*members(bundle_files()), extra]), KEY)


def test_a_tar_bomb_is_refused_before_it_is_inflated(tmp_path):
    path = tmp_path / "bomb.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        info = tarfile.TarInfo("bundle/events.jsonl")
        info.size = 64 << 20
        archive.addfile(info, io.BytesIO(bytes(info.size)))
    assert path.stat().st_size < 1 << 20
    with pytest.raises(BundleError, match="exceed 1048576 bytes"):
        verify_bundle(path, KEY, max_bytes=1 << 20)


def test_a_zip_bomb_is_refused_before_it_is_inflated(tmp_path):
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bundle/events.jsonl", bytes(64 << 20))
    with pytest.raises(BundleError, match="exceed 1048576 bytes"):
        verify_bundle(path, KEY, max_bytes=1 << 20)


@pytest.mark.parametrize("attack", ["a stray file", "a path traversal", "a repeated file", "a symlink", "a folder entry"])
def test_a_zip_bundle_with_anything_but_its_regular_files_is_refused(tmp_path, attack):
    path = tmp_path / "b.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members(bundle_files()):
            archive.writestr(name, data)
        if attack == "a symlink":
            info = zipfile.ZipInfo("bundle/consistency.json")
            info.external_attr = 0o120777 << 16
            archive.writestr(info, "/etc/passwd")
        elif attack == "a folder entry":
            archive.writestr(zipfile.ZipInfo("bundle/sub/"), b"")
        else:
            name = {"a stray file": "bundle/x", "a path traversal": "bundle/../x", "a repeated file": "bundle/checkpoint.note"}
            with pytest.warns(UserWarning) if attack == "a repeated file" else _nothing():
                archive.writestr(name[attack], b"{}")
    with pytest.raises(BundleError):
        verify_bundle(path, KEY)


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


@pytest.mark.parametrize("attack", ["a symlink", "a sub-folder", "a stray file"])
def test_a_directory_bundle_with_anything_but_its_regular_files_is_refused(tmp_path, attack):
    bundle = write(tmp_path / "b", bundle_files())
    if attack == "a symlink":
        (tmp_path / "outside").write_text("{}")
        (bundle / "consistency.json").symlink_to(tmp_path / "outside")
    elif attack == "a sub-folder":
        (bundle / "consistency.json").mkdir()
    else:
        (bundle / "README").write_text("hello")
    with pytest.raises(BundleError):
        verify_bundle(bundle, KEY)


def test_garbage_of_every_kind_is_a_typed_error(tmp_path):
    for name, data in [("g.tar.gz", b"\x1f\x8bgarbage"), ("g.zip", b"PK\x03\x04garbage"), ("g.tgz", b""),
                       ("g.txt", b"hello")]:
        (tmp_path / name).write_bytes(data)
        with pytest.raises(LedgerToolsError):
            verify_bundle(tmp_path / name, KEY)
    with pytest.raises(LedgerToolsError):
        verify_bundle(tmp_path / "absent.tar.gz", KEY)
