"""A forger who controls everything in a bundle but the signing key: each test is one attack that once worked.

Every attack is refused with a typed error (or, at the terminal, shown harmlessly), never a false OK.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import tracemalloc
from pathlib import Path

import pytest

from ledger_tools.__main__ import _one_line, main
from ledger_tools.bundle import BundleError, verify_bundle

from .bundles import SIGNER, bundle_files, event, manifest_of, with_manifest, write

KEY = str(SIGNER.verifier)


def only_positions(files: dict[str, bytes], keep: set[int]) -> dict[str, bytes]:
    """The events and proofs of `files` at the positions in `keep` (no manifest)."""
    out = dict(files)
    for name in ("events.jsonl", "proofs.jsonl"):
        out[name] = b"".join(line for line in files[name].splitlines(keepends=True)
                             if json.loads(line)["position"] in keep)
    return out


def subject_slice(subject: str) -> dict[str, bytes]:
    """A real slice (aggregates of positions 1 and 3, each from version 1) whose manifest names `subject`."""
    files = only_positions(bundle_files(), {1, 3})
    selection = {"kind": "subject", "subject": subject, "aggregates": [event(1)[0], event(3)[0]]}
    return with_manifest(files, {**manifest_of(files), "events": 2, "selection": selection})


def test_a_slice_names_one_of_its_own_aggregates_as_its_subject(tmp_path):
    report = verify_bundle(write(tmp_path / "b", subject_slice(event(1)[0])), KEY)
    assert report.chosen_by == f"subject {event(1)[0]}"


@pytest.mark.parametrize("kind", ["subject", "model"])
def test_a_slice_of_other_aggregates_relabelled_as_the_subject_or_model_asked_for_is_refused(tmp_path, kind):
    # The forger was asked for data subject (or model) X, and sends a genuine slice of someone else's
    # aggregates with X written into the unsigned manifest: the verdict said "OK: … (subject X)".
    asked_for = event(5)[0]
    files = subject_slice(asked_for)
    manifest = manifest_of(files)
    manifest["selection"] = {"kind": kind, kind: asked_for, "aggregates": [event(1)[0], event(3)[0]]}
    with pytest.raises(BundleError, match=f"names {kind} .* not one of its aggregates"):
        verify_bundle(write(tmp_path / "b", with_manifest(files, manifest)), KEY)


def time_bundle(start: str) -> dict[str, bytes]:
    files = bundle_files()
    selection = {"kind": "time", "from": start, "to": "2027-01-01T00:00:00+00:00", "first_position": 1,
                 "last_position": 4}
    return with_manifest(files, {**manifest_of(files), "selection": selection})


@pytest.mark.parametrize("trick", [
    "\x1b[2K\x1b[1GOK: every event of 2026\x1b[8m",  # erase the NOT PROVEN line, write OK, hide the rest
    "2026-01-01\u202e",                               # a bidi override reverses what follows on screen
    "2026-01-01\x00",
])
def test_terminal_escapes_in_the_manifest_cannot_redraw_the_verdict(tmp_path, capsys, trick):
    write(tmp_path / "b", time_bundle(trick))
    (tmp_path / "key.vkey").write_text(f"{KEY}\n")
    status = main(["verify", str(tmp_path / "b"), "--trusted-key", str(tmp_path / "key.vkey")])
    out, err = capsys.readouterr()
    assert status == 1 and "printable" in err
    assert all(c.isprintable() or c == "\n" for c in out + err)


def test_the_cli_prints_any_unprintable_character_as_its_escape():
    # Defence in depth: whatever text reaches a verdict or error line is shown, never obeyed, by the terminal.
    line = _one_line("OK: \x1b[8mhidden \u202etxet\ud800 \t end")
    assert line == "OK: \\x1b[8mhidden \\u202etxet\\ud800 end"


def test_one_event_spread_over_two_lines_and_two_events_on_one_line_are_refused(tmp_path):
    # Line n of events.jsonl is event n: a reader going line by line must see what the verifier saw.
    files = bundle_files()
    lines = files["events.jsonl"].splitlines()
    split = lines[0].replace(b', "topic"', b'\n"topic"', 1)  # one event over two lines...
    joined = lines[1] + b"," + lines[2]                         # ...and two on one: the count still matches
    files = {**files, "events.jsonl": b"\n".join([split, joined, *lines[3:]]) + b"\n"}
    with pytest.raises(BundleError, match="one JSON object per line"):
        verify_bundle(write(tmp_path / "b", with_manifest(files, manifest_of(files))), KEY)


def test_a_line_break_inside_a_string_cannot_join_two_lines_into_one_event(tmp_path):
    files = bundle_files()
    lines = files["events.jsonl"].splitlines()
    topic = lines[0].index(b'"topic": "') + len(b'"topic": "') + 6
    split = lines[0][:topic] + b"}\n{" + lines[0][topic:]  # the line break sits inside the topic's text
    files = {**files, "events.jsonl": b"\n".join([split, lines[1] + b"," + lines[2], *lines[3:]]) + b"\n"}
    with pytest.raises(BundleError, match="not strict JSON|one JSON object per line"):
        verify_bundle(write(tmp_path / "b", with_manifest(files, manifest_of(files))), KEY)


def test_crlf_line_ends_are_refused(tmp_path):
    files = bundle_files()
    files = {**files, "events.jsonl": files["events.jsonl"].replace(b"\n", b"\r\n")}
    with pytest.raises(BundleError, match="one JSON object per line"):
        verify_bundle(write(tmp_path / "b", with_manifest(files, manifest_of(files))), KEY)


def header_bomb(path: Path, kind: bytes, size: int) -> Path:
    """A .tar.gz whose first header (a GNU long name or a pax header) declares `size` bytes, that tarfile reads itself."""
    header = tarfile.TarInfo("././@LongLink" if kind == tarfile.GNUTYPE_LONGNAME else "././@PaxHeader")
    header.type, header.size = kind, size
    with gzip.open(path, "wb", compresslevel=1) as out:
        out.write(header.tobuf(format=tarfile.GNU_FORMAT))
        out.write(b"a" * size)
        info = tarfile.TarInfo("bundle/manifest.json")
        out.write(info.tobuf(format=tarfile.GNU_FORMAT) + bytes(1024))
    return path


@pytest.mark.parametrize("kind", [tarfile.GNUTYPE_LONGNAME, tarfile.XHDTYPE], ids=["gnu-long-name", "pax-header"])
def test_a_tar_header_bomb_is_refused_within_max_bytes(tmp_path, kind):
    # tarfile reads a long name or a pax header whole before the bundle sees the entry: 8 MiB here,
    # gigabytes from a few megabytes of .tar.gz, whatever --max-bytes said.
    bomb = header_bomb(tmp_path / "bomb.tar.gz", kind, 8 << 20)
    tracemalloc.start()
    try:
        with pytest.raises(BundleError, match="more than its files' limit"):
            verify_bundle(bomb, KEY, max_bytes=1 << 20)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20


def test_a_tar_bundle_still_verifies_within_a_tight_max_bytes(tmp_path):
    files = bundle_files()
    path = tmp_path / "b.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(f"bundle/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    assert verify_bundle(path, KEY, max_bytes=sum(map(len, files.values()))).events == 4


def test_a_bomb_of_repeated_event_lines_is_refused_before_it_is_parsed(tmp_path):
    # Identical lines compress to almost nothing in a .tar.gz, and each parses into objects several
    # times its size: 2 MB of archive took 1.8 GB of memory. No more lines than the signed tree has leaves.
    files = bundle_files(size=6, first=0, last=5)
    events, proofs = files["events.jsonl"].splitlines(keepends=True), files["proofs.jsonl"].splitlines(keepends=True)
    n = 60_000
    files = {**files, "events.jsonl": events[0] * n, "proofs.jsonl": proofs[0] * n}
    manifest = {**manifest_of(files), "events": n}
    bundle = write(tmp_path / "b", with_manifest(files, manifest))
    size = len(files["events.jsonl"]) + len(files["proofs.jsonl"])
    tracemalloc.start()
    try:
        with pytest.raises(BundleError, match="more than the 6 events of the signed tree"):
            verify_bundle(bundle, KEY)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 * size


def test_a_manifest_bomb_is_refused_before_it_is_parsed(tmp_path):
    # The manifest is parsed before the signed tree size bounds anything: a list of millions of tiny
    # ids (a few kB of .tar.gz) would be parsed whole.
    files = bundle_files()
    manifest = {**manifest_of(files), "selection": {"kind": "model", "model": "m", "aggregates": ["m"] + ["ab"] * (3 << 20)}}
    with pytest.raises(BundleError, match="manifest.json is larger than"):
        verify_bundle(write(tmp_path / "b", with_manifest(files, manifest)), KEY)


def test_foreign_aggregates_smuggled_into_a_slice_are_not_claimed_to_concern_its_subject(tmp_path):
    # The named subject's own aggregate is there, and so is someone else's: the verdict must not
    # present the stranger's history as the subject's.
    verdict = verify_bundle(write(tmp_path / "b", subject_slice(event(1)[0])), KEY).verdict()
    assert f"NOT PROVEN: that the aggregates other than {event(1)[0]} itself concern it" in " ".join(verdict)
    assert verdict[-1].startswith("NOT PROVEN: that the slice is whole")


def test_a_character_the_output_cannot_encode_is_escaped_not_a_traceback(tmp_path):
    # The verdict quotes the log's origin and key; a verdict redirected to a file in a legacy encoding
    # (Windows' cp1252, or PYTHONIOENCODING=ascii) raised UnicodeEncodeError with a traceback.
    import os
    import subprocess
    import sys

    from ledger_tools import Signer

    signer = Signer("l\u0101dger.example/\u4e00", bytes(range(32)))
    write(tmp_path / "b", bundle_files(signer=signer))
    (tmp_path / "key.vkey").write_text(f"{signer.verifier}\n", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "ledger_tools", "verify", str(tmp_path / "b"), "--trusted-key",
                             str(tmp_path / "key.vkey")], capture_output=True, timeout=60,
                            env={**os.environ, "PYTHONIOENCODING": "ascii"})
    assert result.returncode == 0, result.stderr
    assert b"l\\u0101dger.example/\\u4e00" in result.stdout and not result.stderr


def test_a_zip_of_thousands_of_empty_entries_is_refused_by_its_size_before_its_index_is_read(tmp_path):
    # zipfile parses the whole central directory before the bundle can count entries: 27 MB of
    # empty entries took 180 MB, whatever --max-bytes said.
    import zipfile

    path = tmp_path / "many.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for i in range(30_000):
            archive.writestr(zipfile.ZipInfo(f"b/{i}"), b"")
    with pytest.raises(BundleError, match=r"is a file of \d+ bytes, more than files of 1000 bytes"):
        verify_bundle(path, KEY, max_bytes=1000)


def test_an_inclusion_proof_of_a_quarter_million_hashes_is_refused_without_a_copy_per_level():
    # The walker kept the rest of the path at every level it climbed: a forged proof of 170 MB took
    # 1.9 GB in a tree of 3,236 leaves. No proof in a tree of n leaves is longer than log2(n) hashes.
    from ledger_tools.proofwalk import ProofWalker

    walker = ProofWalker(1 << 20, bytes(32))
    path = bytes(32 * 250_000)
    tracemalloc.start()
    try:
        assert not walker.leads_to_root(0, bytes(32), path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


@pytest.mark.parametrize("start", [
    "2026-01-01: the times are proven too. OK: every event of 2026 is here",  # reads as a verdict of its own
    "last spring",
    "2026-01-01T00:00:00",           # no UTC offset: which moment?
    "2027-06-01T00:00:00+00:00",     # after 'to'
])
def test_free_text_posing_as_a_time_window_is_refused(tmp_path, start):
    with pytest.raises(BundleError, match="ISO 8601|run forward"):
        verify_bundle(write(tmp_path / "b", time_bundle(start)), KEY)


def test_a_time_window_as_the_exporter_writes_it_verifies(tmp_path):
    report = verify_bundle(write(tmp_path / "b", time_bundle("2026-01-01T00:00:00+00:00")), KEY)
    assert report.chosen_by == "from 2026-01-01T00:00:00+00:00 to 2027-01-01T00:00:00+00:00"


def test_a_reader_that_closes_the_pipe_early_gets_no_traceback(tmp_path):
    # `ledger-verify bundle | head -1`: the verdict was printed into a closed pipe, with a traceback.
    import subprocess
    import sys

    write(tmp_path / "b", bundle_files())
    (tmp_path / "key.vkey").write_text(f"{KEY}\n")
    process = subprocess.Popen([sys.executable, "-m", "ledger_tools", "verify", str(tmp_path / "b"), "--trusted-key",
                                str(tmp_path / "key.vkey")], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # long before the verdict is written
    assert process.wait(timeout=60) == 0
    assert b"Traceback" not in process.stderr.read()
