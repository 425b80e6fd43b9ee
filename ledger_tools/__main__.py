"""`python -m ledger_tools` (also `ledger-verify`): offline checks with nothing but ledger_tools and cryptography.

    python -m ledger_tools verify BUNDLE [--trusted-key VKEY_FILE]
    python -m ledger_tools checkpoint NOTE_FILE --key VKEY_FILE [--origin ORIGIN]

Exit 0 when everything holds, 1 when a check fails, 2 on unusable input.
"""

from __future__ import annotations

import argparse
import base64
import sys
from collections.abc import Callable
from pathlib import Path

from .bundle import verify_bundle
from .checkpoint import open_checkpoint
from .errors import MalformedInputError, VerificationError
from .note import Verifier


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise MalformedInputError(f"cannot read {path}: {e}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ledger_tools", description="Verify govledger ledger data offline.")
    sub = parser.add_subparsers(dest="command", required=True)
    cp = sub.add_parser("checkpoint", help="verify a signed checkpoint against a pinned verifier key")
    cp.add_argument("note", help="file holding the C2SP signed checkpoint")
    cp.add_argument("--key", required=True, help="file holding the verifier key (name+id+base64key)")
    cp.add_argument("--origin", help="the origin line the checkpoint must carry")
    vb = sub.add_parser("verify", help="verify a bundle exported by `govledger export`")
    vb.add_argument("bundle", help="the bundle: a directory, .tar.gz or .zip")
    vb.add_argument("--trusted-key", help="file holding the verifier key you expect the checkpoint to be signed with")
    args = parser.parse_args(argv)
    if args.command == "verify":
        return _run(lambda: _verify(args.bundle, args.trusted_key))
    return _run(lambda: _checkpoint(args.note, args.key, args.origin))


def _run(check: Callable[[], list[str]]) -> int:
    """Print the verdict: exit 0 when everything holds, 1 when a check fails, 2 on unusable input."""
    try:
        lines = check()
    except VerificationError as e:
        print(f"FAIL: {e}", file=sys.stderr)
        return 1
    except MalformedInputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    return 0


def _checkpoint(note: str, key: str, origin: str | None) -> list[str]:
    verifier = Verifier.parse(_read(key))
    checkpoint = open_checkpoint(_read(note), verifier, origin=origin)
    return [f"OK: checkpoint of {checkpoint.origin!r}, tree size {checkpoint.size}, "
            f"root {base64.b64encode(checkpoint.root).decode()}, signed by {verifier.name}+{verifier.id.hex()}"]


def _verify(bundle: str, trusted_key_file: str | None) -> list[str]:
    trusted = _read(trusted_key_file).strip() if trusted_key_file else None
    report = verify_bundle(bundle, trusted)
    lines = [f"OK: {report.events} events (positions {report.first_position}–{report.last_position}) are in the tree of "
             f"{report.tree_size} leaves of {report.origin!r}, signed by {report.key}"]
    if report.consistent_from is not None:
        lines.append(f"OK: that tree extends the checkpoint of size {report.consistent_from} you already held")
    if not report.key_pinned:
        lines.append("WARNING: the key was taken from the bundle itself; pass --trusted-key to pin the key you expect")
    return lines


def verify_main() -> None:
    """The `ledger-verify BUNDLE [--trusted-key FILE]` console script."""
    sys.exit(main(["verify", *sys.argv[1:]]))


if __name__ == "__main__":
    sys.exit(main())
