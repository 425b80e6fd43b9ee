"""`python -m ledger_tools` (also `ledger-verify`): offline checks with nothing but ledger_tools and cryptography.

    python -m ledger_tools verify BUNDLE --trusted-key VKEY_FILE [--held-checkpoint NOTE_FILE] [--max-bytes N]
    python -m ledger_tools verify BUNDLE --insecure-trust-bundle-key      (checks nothing about who signed it)
    python -m ledger_tools checkpoint NOTE_FILE --key VKEY_FILE [--origin ORIGIN]
    python -m ledger_tools receipt RECEIPT PROOF --trusted-key VKEY_FILE [--log-key VKEY_FILE]

`ledger-verify BUNDLE …` is `verify`, and `ledger-verify receipt …` is `receipt`.

Exit 0 when everything holds, 1 when a check fails, 2 on unusable input or usage; every error is one line.
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from .archive import MAX_BUNDLE_BYTES
from .bundle import verify_bundle
from .checkpoint import Checkpoint, open_checkpoint
from .errors import LedgerToolsError, MalformedInputError, VerificationError
from .note import Verifier, note_text
from .receipt import PROOF_FORMAT, RECEIPT_FORMAT, parse_proof, parse_proof_json, parse_receipt_json, verify_receipt

_NO_KEY = ("pass --trusted-key VKEY_FILE, the ledger's verifier key you were given; or, to check only that the "
           "bundle agrees with itself, --insecure-trust-bundle-key")


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line and exit 2, not argparse's usage block."""

    def error(self, message: str) -> NoReturn:
        print(f"error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(2)


def _read(path: str, limit: int = 1 << 20) -> str:
    """A small text file (a key or a checkpoint), read whole as strict UTF-8."""
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
        if len(data) > limit:
            raise MalformedInputError(f"{path} is larger than {limit} bytes: not a key or checkpoint")
        return data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise MalformedInputError(f"cannot read {path}: {e}") from None


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="python -m ledger_tools", description="Verify govledger ledger data offline.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    cp = sub.add_parser("checkpoint", help="verify a signed checkpoint against a pinned verifier key")
    cp.add_argument("note", help="file holding the C2SP signed checkpoint")
    cp.add_argument("--key", required=True, help="file holding the verifier key (name+id+base64key)")
    cp.add_argument("--origin", help="the origin line the checkpoint must carry")
    vb = sub.add_parser("verify", help="verify a bundle exported by `govledger export`")
    vb.add_argument("bundle", help="the bundle: a directory, .tar.gz or .zip")
    vb.add_argument("--trusted-key", help="file holding the ledger's verifier key, as you were given it (required)")
    vb.add_argument("--held-checkpoint", help="a checkpoint note you already hold: prove the bundle's tree extends it")
    vb.add_argument("--max-bytes", type=int, default=MAX_BUNDLE_BYTES, help="refuse bundles larger than this in all")
    vb.add_argument("--insecure-trust-bundle-key", action="store_true",
                    help="no pinned key: check the bundle against the key it carries (proves nothing about its origin)")
    rc = sub.add_parser("receipt", help="verify that the log holds the prediction a receipt was given for")
    rc.add_argument("receipt", help="RECEIPT.json as the service answered it, or the receipt's signed note")
    rc.add_argument("proof", help="PROOF.json as the service answered it, or the C2SP tlog-proof text")
    rc.add_argument("--trusted-key", required=True,
                    help="file holding the receipt key the service published (name+id+base64key)")
    rc.add_argument("--log-key", help="file holding the log's verifier key: require its signature on the checkpoint too")
    args = parser.parse_args(argv)
    if args.command == "receipt":
        return _run(lambda: _receipt(args.receipt, args.proof, args.trusted_key, args.log_key))
    if args.command == "verify":
        if args.trusted_key is None and not args.insecure_trust_bundle_key:
            parser.error(_NO_KEY)
        if args.trusted_key is not None and args.insecure_trust_bundle_key:
            parser.error("--trusted-key and --insecure-trust-bundle-key exclude each other")
        return _run(lambda: _verify(args.bundle, args.trusted_key, args.held_checkpoint, args.max_bytes))
    return _run(lambda: _checkpoint(args.note, args.key, args.origin))


def _one_line(text: str) -> str:
    """One line of printable text: whitespace runs become one space; every other unprintable character
    (terminal escapes, bidi overrides, lone surrogates) is written as its escape, so a bundle cannot
    redraw or hide what the verdict says."""
    line = " ".join(text.split())
    if line.isprintable():
        return line
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in line)


def _message(error: Exception, limit: int = 2000) -> str:
    """An error's message on one line, cut short: it may quote a value the bundle made arbitrarily long."""
    text = str(error)
    return _one_line(text if len(text) <= limit else text[:limit] + " ...")


def _run(check: Callable[[], list[str]]) -> int:
    """Print the verdict: exit 0 when everything holds, 1 when a check fails, 2 on unusable input."""
    for stream in (sys.stdout, sys.stderr):  # a terminal or file that cannot show a character gets its escape
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")
    try:
        lines = check()
    except VerificationError as e:
        print(f"FAIL: {_message(e)}", file=sys.stderr)
        return 1
    except LedgerToolsError as e:
        print(f"error: {_message(e)}", file=sys.stderr)
        return 2
    try:
        print("\n".join(_one_line(line) for line in lines), flush=True)
    except BrokenPipeError:  # the reader (`| head`) left: the verdict stands, without a traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def _checkpoint(note: str, key: str, origin: str | None) -> list[str]:
    verifier = Verifier.parse(_read(key))
    checkpoint = open_checkpoint(_read(note), verifier, origin=origin)
    return [f"OK: checkpoint of {checkpoint.origin!r}, tree size {checkpoint.size}, "
            f"root {base64.b64encode(checkpoint.root).decode()}, signed by {verifier.name}+{verifier.id.hex()}"]


def _receipt(receipt_file: str, proof_file: str, key_file: str, log_key_file: str | None) -> list[str]:
    trusted = Verifier.parse(_read(key_file))
    log_key = Verifier.parse(_read(log_key_file)) if log_key_file is not None else None
    # Each file is its JSON wrapper or the raw text, which begins with its format's first line.
    receipt_text, proof_text = _read(receipt_file), _read(proof_file)
    note = receipt_text if receipt_text.startswith(RECEIPT_FORMAT + "\n") else parse_receipt_json(receipt_text)
    proof = proof_text if proof_text.startswith(PROOF_FORMAT + "\n") else parse_proof_json(proof_text)
    receipt = verify_receipt(note, proof, trusted, log_key=log_key)
    checkpoint = Checkpoint.parse(note_text(parse_proof(proof).checkpoint_note))
    recorded = receipt.recorded_at.isoformat(timespec="microseconds").replace("+00:00", "Z")
    lines = [f"OK: receipt for request {receipt.request_id} at position {receipt.position} is in the log "
             f"(tree size {checkpoint.size}, root {base64.b64encode(checkpoint.root).decode()})",
             f"OK: the receipt (recorded at {recorded} by the service's clock) and the checkpoint of "
             f"{checkpoint.origin!r} are signed by the receipt key {trusted.name}+{trusted.id.hex()}"]
    if log_key is None:
        lines.append("NOT CHECKED: the log's own signature on the checkpoint (pass --log-key with the log's verifier key)")
    else:
        lines.append(f"OK: the checkpoint is signed by the log's key {log_key.name}+{log_key.id.hex()} too")
    return lines


def _verify(bundle: str, trusted_key_file: str | None, held_file: str | None, max_bytes: int) -> list[str]:
    trusted = _read(trusted_key_file) if trusted_key_file is not None else None
    held = _read(held_file) if held_file is not None else None
    report = verify_bundle(Path(bundle), trusted, held_checkpoint=held, trust_bundle_key=trusted is None,
                           max_bytes=max_bytes)
    return report.verdict()


def verify_main() -> None:
    """The `ledger-verify` console script: `ledger-verify BUNDLE --trusted-key FILE [--held-checkpoint NOTE]`, or
    `ledger-verify receipt RECEIPT PROOF --trusted-key FILE [--log-key FILE]` (a bundle named `receipt` is `./receipt`)."""
    args = sys.argv[1:]
    sys.exit(main(args if args[:1] == ["receipt"] else ["verify", *args]))


if __name__ == "__main__":
    sys.exit(main())
