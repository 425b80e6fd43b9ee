"""Read the files of a bundle — a directory, a .tar.gz or a .zip — into memory, refusing anything but its named files.

A bundle holds a fixed set of regular files (in an archive, under one top folder `bundle/`). Anything
else is refused rather than skipped: links, devices, sub-folders, stray or repeated names, encrypted
or unusually compressed zip entries, and files whose declared or actual sizes exceed `max_bytes` in
all (so a zip or tar bomb is refused before it is inflated). Nothing is ever extracted to disk.
"""

from __future__ import annotations

import gzip
import stat
import struct
import tarfile
import zipfile
import zlib
from pathlib import Path

from .errors import MalformedInputError, VerificationError

__all__ = ["BUNDLE_FILES", "MAX_BUNDLE_BYTES", "BundleError", "read_bundle"]

BUNDLE_FILES = frozenset({"manifest.json", "checkpoint.note", "verifier.vkey", "events.jsonl", "proofs.jsonl",
                          "consistency.json"})
MAX_BUNDLE_BYTES = 2 << 30  # about 1.6 million events of ~1.3 kB each with their proofs
_TOP = "bundle"
# What the standard library's archive readers raise on corrupt input, besides their own error classes.
_CORRUPT = (OSError, EOFError, ValueError, RuntimeError, NotImplementedError, OverflowError, KeyError, IndexError,
            zlib.error, struct.error, tarfile.TarError, zipfile.BadZipFile)


class BundleError(VerificationError):
    """The bundle does not verify, or cannot be read; the message names the file, event or proof."""


class _Budget:
    def __init__(self, max_bytes: int) -> None:
        self.left = max_bytes
        self.max_bytes = max_bytes

    def take(self, name: str, size: int) -> None:
        if size > self.left:
            raise BundleError(f"the bundle's files exceed {self.max_bytes} bytes in all (at {name}); "
                              "raise the limit if the bundle is genuinely that large")
        self.left -= size


def read_bundle(path: str | Path, max_bytes: int = MAX_BUNDLE_BYTES) -> dict[str, bytes]:
    """The bundle's files by name, as bytes; raise BundleError for anything that is not one of them."""
    if type(max_bytes) is not int or max_bytes < 0:
        raise MalformedInputError(f"max_bytes must be a non-negative integer, got {max_bytes!r}")
    path = Path(path)
    budget = _Budget(max_bytes)
    try:
        if path.is_dir():
            return _read_directory(path, budget)
        if not path.is_file():
            raise BundleError(f"bundle {path} does not exist or is not a file or directory")
        # An archive holds its files stored or compressed, plus headers: one much larger than the limit
        # is not a bundle within it, and reading its index (a zip's central directory of millions of
        # entries) would already cost many times its size.
        archive_limit = max_bytes + max_bytes // 100 + (1 << 20)
        if path.stat().st_size > archive_limit:
            raise BundleError(f"bundle {path} is a file of {path.stat().st_size} bytes, more than files of "
                              f"{max_bytes} bytes in all can take; raise the limit if the bundle is genuinely that large")
        if path.name.endswith((".tar.gz", ".tgz")):
            return _read_tar(path, budget)
        if path.name.endswith(".zip"):
            return _read_zip(path, budget)
    except BundleError:
        raise
    except _CORRUPT as e:
        raise BundleError(f"cannot read bundle {path}: {type(e).__name__}: {' '.join(str(e).split())}") from None
    raise BundleError(f"bundle {path} is neither a directory, a .tar.gz nor a .zip")


def _name(entry: str) -> str:
    if entry not in BUNDLE_FILES:
        raise BundleError(f"the bundle holds an unexpected entry {entry!r}: only {', '.join(sorted(BUNDLE_FILES))}")
    return entry


def _add(files: dict[str, bytes], name: str, data: bytes) -> None:
    if name in files:
        raise BundleError(f"the bundle holds {name} twice")
    files[name] = data


def _read_directory(path: Path, budget: _Budget) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for entry in path.iterdir():  # unsorted: the first stray entry is refused before a huge folder is listed
        name = _name(entry.name)
        info = entry.lstat()
        if not stat.S_ISREG(info.st_mode):
            raise BundleError(f"{name} in the bundle is not a regular file (a link, folder or device)")
        budget.take(name, info.st_size)
        with entry.open("rb") as f:
            data = f.read(info.st_size + 1)
        if len(data) != info.st_size:
            raise BundleError(f"{name} in the bundle changed while it was read")
        _add(files, name, data)
    return files


def _member_name(entry: str) -> str | None:
    """The file name of an archive entry `bundle/NAME`; None for the top folder itself."""
    if entry in (_TOP, _TOP + "/"):
        return None
    top, slash, name = entry.partition("/")
    if top != _TOP or not slash:
        raise BundleError(f"the bundle holds an unexpected entry {entry!r}: every file lives under {_TOP}/")
    return _name(name)


class _CappedStream:
    """A decompressed stream that refuses to be read past `limit` bytes.

    tarfile reads some entries' contents itself before the bundle sees them — GNU long names and
    pax headers, whose declared size is whatever the archive says — so the budget must hold for the
    decompressed stream as a whole, not only for the files handed to the bundle.
    """

    def __init__(self, raw: gzip.GzipFile, limit: int) -> None:
        self.raw, self.limit = raw, limit

    def read(self, size: int = -1) -> bytes:
        if size < 0 or self.raw.tell() + size > self.limit:
            raise BundleError(f"the bundle archive unpacks to more than its files' limit of {self.limit} bytes "
                              "(with headers); raise the limit if the bundle is genuinely that large")
        return self.raw.read(size)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.raw.seek(offset, whence)

    def tell(self) -> int:
        return self.raw.tell()

    def write(self, data: bytes) -> int:
        raise OSError("a bundle archive is read, never written")

    def close(self) -> None:
        """The gzip file is closed by its owner."""


def _read_tar(path: Path, budget: _Budget) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    # Room for the headers and padding of a bundle's few entries, on top of the files themselves.
    limit = budget.max_bytes + (len(BUNDLE_FILES) + 2) * 2 * tarfile.BLOCKSIZE + tarfile.RECORDSIZE
    with gzip.open(path, "rb") as raw, tarfile.open(fileobj=_CappedStream(raw, limit), mode="r:") as tar:
        for count, member in enumerate(tar, start=1):
            if count > len(BUNDLE_FILES) + 1:
                raise BundleError("the bundle archive holds more entries than a bundle has files")
            name = _member_name(member.name)
            if name is None:
                if not member.isdir():
                    raise BundleError(f"the archive entry {member.name!r} is not a folder")
                continue
            if member.type not in (tarfile.REGTYPE, tarfile.AREGTYPE):
                raise BundleError(f"{name} in the bundle is not a regular file (a link, folder or device)")
            budget.take(name, member.size)
            extracted = tar.extractfile(member)
            if extracted is None:
                raise BundleError(f"{name} in the bundle cannot be read")
            data = extracted.read(member.size)
            if len(data) != member.size:
                raise BundleError(f"{name} in the bundle is truncated")
            _add(files, name, data)
    return files


def _read_zip(path: Path, budget: _Budget) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    with zipfile.ZipFile(path) as archive:
        entries = archive.infolist()
        if len(entries) > len(BUNDLE_FILES) + 1:
            raise BundleError("the bundle archive holds more entries than a bundle has files")
        for info in entries:
            name = _member_name(info.filename)
            if name is None:
                if not info.is_dir():
                    raise BundleError(f"the archive entry {info.filename!r} is not a folder")
                continue
            file_type = stat.S_IFMT(info.external_attr >> 16)  # 0 when the archiver recorded none
            if info.is_dir() or file_type not in (0, stat.S_IFREG):
                raise BundleError(f"{name} in the bundle is not a regular file (a link, folder or device)")
            if info.flag_bits & 0x1 or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise BundleError(f"{name} in the bundle is encrypted or compressed other than by deflate")
            budget.take(name, info.file_size)
            with archive.open(info) as member:  # reads at most file_size bytes and checks their CRC
                data = member.read(info.file_size + 1)
            if len(data) != info.file_size:
                raise BundleError(f"{name} in the bundle does not have the size its archive entry declares")
            _add(files, name, data)
    return files
