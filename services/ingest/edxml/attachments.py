"""An attachment's bytes: base64 decoded as it is read, into a spool file, hashed and
bounded; a zipped attachment opened member by member under the same bounds."""

from __future__ import annotations

import binascii
import hashlib
import os
import posixpath
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import pybase64

from services.common.storage import CHUNK, SpooledUpload
from services.ingest.edxml.errors import PackageRefused, PackageTooLarge

WHITESPACE = b" \t\r\n"
WHITESPACE_BYTES = tuple(bytes([c]) for c in WHITESPACE)
ZIP_TYPES = frozenset({"application/zip", "application/x-zip-compressed", "application/x-zip"})
#: Below this many decoded bytes a zip member is never called a bomb, whatever its ratio.
RATIO_FLOOR = 1024 * 1024


class _Spool:
    """A temporary file under ``directory`` that hashes what is written and refuses
    more than ``limit`` bytes (naming ``element``)."""

    def __init__(self, directory: Path, element: str, limit: int) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=directory, prefix="edxml-")
        self.path = Path(name)
        self.out = os.fdopen(fd, "wb")
        self.digest = hashlib.sha256()
        self.size = 0
        self.element = element
        self.limit = limit

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            raise PackageTooLarge(
                self.element, f"is larger than the limit of {self.limit} bytes once decoded"
            )
        self.digest.update(data)
        self.out.write(data)

    def close(self) -> SpooledUpload:
        self.out.close()
        return SpooledUpload(self.path, self.digest.hexdigest(), self.size)

    def discard(self) -> None:
        self.out.close()
        self.path.unlink(missing_ok=True)


class Base64Spool:
    """Base64 text fed in pieces (as the XML reader hands it over), decoded strictly:
    whitespace is skipped, anything outside the alphabet, misplaced padding or a
    length that is not a multiple of four is refused."""

    def __init__(self, directory: Path, element: str, limit: int) -> None:
        self.element = element
        self._spool = _Spool(directory, element, limit)
        self._pending = b""
        self._ended = False

    def feed(self, text: str) -> None:
        try:
            data = text.encode("ascii")
        except UnicodeEncodeError as e:
            raise PackageRefused(self.element, "is not base64 (a non-ASCII character)") from e
        for space in WHITESPACE_BYTES:  # replace() is several times faster than translate()
            if space in data:
                data = data.replace(space, b"")
        if not data:
            return
        if self._ended:
            raise PackageRefused(self.element, "is not base64 (data after the padding)")
        data = self._pending + data
        whole = len(data) - len(data) % 4
        chunk, self._pending = data[:whole], data[whole:]
        if not chunk:
            return
        try:
            # validate: only the alphabet, padding only at the end (SIMD, ~60× binascii)
            decoded = pybase64.b64decode(chunk, validate=True)
        except (binascii.Error, ValueError) as e:
            raise PackageRefused(self.element, f"is not base64 ({e})") from e
        self._ended = chunk.endswith(b"=")
        self._spool.write(decoded)

    def finish(self) -> SpooledUpload:
        if self._pending:
            raise PackageRefused(self.element, "is not base64 (its length is not a multiple of 4)")
        upload = self._spool.close()
        if upload.size == 0:
            upload.discard()
            raise PackageRefused(self.element, "is empty")
        return upload

    def discard(self) -> None:
        self._spool.discard()


@dataclass(frozen=True)
class ZipLimits:
    max_members: int
    max_bytes: int  # the members of one zipped attachment together, decoded
    max_ratio: int  # decoded / compressed, beyond RATIO_FLOOR


def is_zip(name: str, content_type: str) -> bool:
    """A zipped attachment the sender declared as such (a .docx is a zip too, and stays
    as it is: only an archive named or typed as one is opened)."""
    return content_type.strip().lower() in ZIP_TYPES or name.strip().lower().endswith(".zip")


def safe_member_name(name: str) -> str | None:
    """The member's name when it stays inside the archive's folder, else None."""
    cleaned = name.replace("\\", "/")
    if not cleaned or cleaned.startswith("/") or (len(cleaned) > 1 and cleaned[1] == ":"):
        return None
    if any(part in ("..", "") for part in cleaned.rstrip("/").split("/")):
        return None
    normalized = posixpath.normpath(cleaned)
    if normalized.startswith("..") or normalized.startswith("/") or "\x00" in normalized:
        return None
    return normalized


def unzip(
    archive: SpooledUpload, element: str, directory: Path, limits: ZipLimits
) -> list[tuple[str, SpooledUpload]]:
    """The files of a zipped attachment, each spooled; the archive is left as it is.
    Refused: an unreadable or encrypted archive, too many members, a member whose name
    leaves the folder (``../``, absolute), a member beyond the size or ratio bounds
    (a zip bomb); sizes are counted as the bytes come out, never taken from headers."""
    members: list[tuple[str, SpooledUpload]] = []
    try:
        with zipfile.ZipFile(archive.path) as zf:
            infos = zf.infolist()
            if len(infos) > limits.max_members:
                raise PackageRefused(
                    element, f"the zip lists {len(infos)} entries; at most {limits.max_members}"
                )
            for info in infos:
                name = safe_member_name(info.filename)
                if name is None:
                    raise PackageRefused(
                        element, f"zip entry {info.filename!r} leaves the archive's folder"
                    )
                if info.is_dir():
                    continue
                if info.flag_bits & 0x1:
                    raise PackageRefused(element, f"zip entry {name!r} is encrypted")
                where = f"{element}[{name}]"
                budget = limits.max_bytes - sum(upload.size for _, upload in members)
                _check_declared(info, where, budget, limits)
                members.append((name, _extract(zf, info, where, directory, limits, budget)))
    except zipfile.BadZipFile as e:
        for _, upload in members:
            upload.discard()
        raise PackageRefused(element, f"is not a readable zip archive ({e})") from e
    except BaseException:
        for _, upload in members:
            upload.discard()
        raise
    if not members:
        raise PackageRefused(element, "the zip holds no file")
    return members


def _check_declared(info: zipfile.ZipInfo, element: str, budget: int, limits: ZipLimits) -> None:
    """Refuse from the entry's header what its declared sizes already give away (nothing
    is inflated); the sizes are counted again as the bytes come out (``_extract``)."""
    if info.file_size > budget:
        raise PackageTooLarge(
            element,
            f"declares {info.file_size} bytes; the files of one zipped attachment may hold "
            f"{limits.max_bytes} bytes together",
        )
    if info.file_size > max(RATIO_FLOOR, max(info.compress_size, 1) * limits.max_ratio):
        raise PackageRefused(
            element,
            f"expands more than {limits.max_ratio} times its compressed size (a zip bomb)",
        )


def _extract(
    zf: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    element: str,
    directory: Path,
    limits: ZipLimits,
    budget: int,
) -> SpooledUpload:
    spool = _Spool(directory, element, budget)
    ceiling = max(RATIO_FLOOR, max(info.compress_size, 1) * limits.max_ratio)
    try:
        with zf.open(info) as member:
            while chunk := member.read(CHUNK):
                spool.write(chunk)
                if spool.size > ceiling:
                    raise PackageRefused(
                        element,
                        f"expands more than {limits.max_ratio} times its compressed size "
                        "(a zip bomb)",
                    )
    except (zipfile.BadZipFile, zlib.error, NotImplementedError, EOFError, OSError) as e:
        spool.discard()
        raise PackageRefused(element, f"cannot be unzipped ({e})") from e
    except BaseException:
        spool.discard()
        raise
    return spool.close()
