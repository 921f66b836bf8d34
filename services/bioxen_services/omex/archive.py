"""A COMBINE archive (OMEX) read as untrusted input: checked entry by entry, then unpacked into a
per-request temporary directory that is removed whatever happens.

Why Python's :mod:`zipfile` and our own checks rather than python-libcombine (installed with the
engines): libcombine's ``CombineArchive.initializeFromArchive`` takes a path, so the body would first be
written to disk, and it unpacks through libzip into a directory of its own choosing, following the
names the zip gives, with no limit on entry count, unpacked size or compression ratio and no
refusal of ``..``, absolute names or symlinks; it also reads the manifest with libxml2 with entity
expansion on. A request's archive must be refused *before* anything is written, with a 4xx that says
what is wrong. ``zipfile`` reads from the bytes of the body, reports each entry's declared sizes, mode
and flags, and lets us stream each entry and stop the moment it passes what it declared; the manifest
and the SED-ML are parsed with defusedxml (no DTDs, no entities, nothing fetched).

What is refused, each with a stable code (:mod:`..errors`):

==========================================================  ============================
case                                                        answer
==========================================================  ============================
not a zip, encrypted or unreadable entry, bad SED-ML XML    400 invalid_archive
``..``, absolute, drive-letter, backslash names; symlinks   400 unsafe_archive_entry
and other non-regular entries; duplicate names
no ``manifest.xml``, malformed, naming absent files, no     400 invalid_manifest
SED-ML listed
a SED-ML model by URL/URN or a path outside the archive     400 external_model (nothing is fetched)
too many entries, too large unpacked, ratio past the limit  413 archive_too_large
an entry whose stream runs past its declared size
==========================================================  ============================
"""

from __future__ import annotations

import io
import os
import posixpath
import shutil
import re
import stat
import tempfile
import zipfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from bioxen_common.combine import SEDML_FORMAT
from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from ..errors import (
    ArchiveTooLarge,
    ExternalModel,
    InvalidArchive,
    InvalidManifest,
    UnsafeArchiveEntry,
)

MANIFEST = "manifest.xml"
#: a URI scheme (http:, https:, urn:, file:, ftp: ...): a model that would have to be fetched
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_DRIVE = re.compile(r"^[A-Za-z]:")
#: entries below this size are never refused for their ratio (a small file of repeated text packs well)
RATIO_FLOOR_BYTES = 1 << 20
_CHUNK = 1 << 16


@dataclass(frozen=True)
class Limits:
    entries: int
    unpacked_bytes: int
    ratio: int

    @classmethod
    def from_settings(cls, settings) -> "Limits":
        return cls(settings.omex_max_entries, settings.omex_max_unpacked_bytes, settings.omex_max_ratio)


@dataclass(frozen=True)
class Archive:
    """A checked archive: its bytes, its regular files and the SED-ML files to run (manifest order)."""

    data: bytes
    files: tuple[str, ...]
    sedml: tuple[str, ...]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _check_name(info: zipfile.ZipInfo) -> str:
    """The entry's name if it is a safe relative POSIX path (a directory's without its slash)."""
    name = info.filename
    refuse = None
    if "\\" in name:
        refuse = "holds a backslash"
    elif name.startswith("/") or _DRIVE.match(name):
        refuse = "is an absolute path"
    elif any(part == ".." for part in name.split("/")):
        refuse = "climbs out of the archive with '..'"
    elif any(ord(c) < 32 for c in name):
        refuse = "holds a control character"
    else:
        bare = name[:-1] if info.is_dir() else name
        if not bare or posixpath.normpath(bare) != bare:
            refuse = "is not a plain relative path"
    if refuse:
        raise UnsafeArchiveEntry(f"archive entry {name!r} {refuse}; it is not unpacked",
                                 details={"entry": name})
    kind = stat.S_IFMT(info.external_attr >> 16) if info.create_system == 3 else 0
    if kind == stat.S_IFLNK:
        raise UnsafeArchiveEntry(f"archive entry {name!r} is a symbolic link; links are refused",
                                 details={"entry": name})
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise UnsafeArchiveEntry(f"archive entry {name!r} is not a regular file", details={"entry": name})
    return name.rstrip("/")


def _entries(zf: zipfile.ZipFile, limits: Limits) -> dict[str, zipfile.ZipInfo]:
    """Every regular file by name, after the checks on names, types and declared sizes."""
    infos = zf.infolist()
    if len(infos) > limits.entries:
        raise ArchiveTooLarge(f"the archive has {len(infos)} entries, above the limit of {limits.entries}")
    files: dict[str, zipfile.ZipInfo] = {}
    dirs: set[str] = set()
    total = 0
    for info in infos:
        name = _check_name(info)
        if name in files or name in dirs:
            raise UnsafeArchiveEntry(f"archive entry {name!r} appears more than once", details={"entry": name})
        if info.flag_bits & 0x1:
            raise InvalidArchive(f"archive entry {name!r} is encrypted", details={"entry": name})
        if info.is_dir():
            dirs.add(name)
            continue
        total += info.file_size
        if total > limits.unpacked_bytes:
            raise ArchiveTooLarge(f"the archive's entries unpack to more than {limits.unpacked_bytes} bytes "
                                  "(the limit)")
        if info.file_size > RATIO_FLOOR_BYTES and info.file_size > limits.ratio * max(info.compress_size, 1):
            raise ArchiveTooLarge(f"archive entry {name!r} declares {info.file_size} bytes packed into "
                                  f"{info.compress_size}: past the limit of {limits.ratio}x (a zip bomb?)",
                                  details={"entry": name})
        files[name] = info
    clash = sorted(name for name in files if any(p in files for p in _parents(name)))
    if clash:
        raise UnsafeArchiveEntry(f"archive entry {clash[0]!r} lies under a file of the same archive",
                                 details={"entry": clash[0]})
    return files


def _parents(name: str) -> Iterator[str]:
    while "/" in name:
        name = name.rsplit("/", 1)[0]
        yield name


def _stream(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """An entry's bytes in chunks; stops with 413 the moment they pass its declared size (zipfile
    itself trusts the header) and with 400 on a CRC or format error."""
    seen = 0
    try:
        with zf.open(info) as src:
            while chunk := src.read(_CHUNK):
                seen += len(chunk)
                if seen > info.file_size:
                    raise ArchiveTooLarge(f"archive entry {info.filename!r} unpacks past the {info.file_size} "
                                          "bytes it declares", details={"entry": info.filename})
                yield chunk
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, NotImplementedError, EOFError, OSError,
            ValueError, RuntimeError) as exc:  # RuntimeError: an encrypted entry; zlib: a corrupt stream
        raise InvalidArchive(f"archive entry {info.filename!r} cannot be read: {exc}",
                             details={"entry": info.filename}) from exc


def _read(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    return b"".join(_stream(zf, info))


def _xml(text: bytes, what: str, error: type[InvalidArchive], entry: str):
    try:
        return ElementTree.fromstring(text)
    except DefusedXmlException as exc:
        raise error(f"{what} declares a DTD or entities, which are refused", details={"entry": entry}) from exc
    except ElementTree.ParseError as exc:
        raise error(f"{what} is not well-formed XML: {exc}", details={"entry": entry}) from exc


def _location(raw: str) -> str:
    """A manifest location as an archive entry name ("./a/b.xml" -> "a/b.xml"; "." and "./" -> ".")."""
    while raw.startswith("./"):
        raw = raw[2:]
    return raw or "."


def _manifest(zf: zipfile.ZipFile, files: dict[str, zipfile.ZipInfo]) -> list[str]:
    """The SED-ML files the manifest lists (its masters when it marks any), checked against the entries."""
    if MANIFEST not in files:
        raise InvalidManifest("the archive has no manifest.xml at its top level (a COMBINE archive lists its "
                              "files there)", details={"entry": MANIFEST})
    root = _xml(_read(zf, files[MANIFEST]), "manifest.xml", InvalidManifest, MANIFEST)
    if _local(root.tag) != "omexManifest":
        raise InvalidManifest(f"manifest.xml's root element is <{_local(root.tag)}>, not <omexManifest>",
                              details={"entry": MANIFEST})
    sedml, masters = [], []
    for content in root:
        if _local(content.tag) != "content":
            continue
        raw, fmt = content.get("location"), content.get("format") or ""
        if raw is None:
            raise InvalidManifest("manifest.xml has a <content> without a location", details={"entry": MANIFEST})
        location = _location(raw)
        if location == ".":
            continue
        if location not in files:
            raise InvalidManifest(f"manifest.xml names {raw!r}, which is not a file of the archive",
                                  details={"entry": raw})
        if SEDML_FORMAT.match(fmt):
            sedml.append(location)
            if (content.get("master") or "").lower() == "true":
                masters.append(location)
    if not sedml:
        raise InvalidManifest("manifest.xml lists no SED-ML file (format "
                              "http://identifiers.org/combine.specifications/sed-ml): nothing to run",
                              details={"entry": MANIFEST})
    return masters or sedml


def _check_models(path: str, text: bytes, files: dict[str, zipfile.ZipInfo]) -> None:
    """Every model a SED-ML file names is a file of the archive or another model of the same file."""
    root = _xml(text, f"SED-ML file {path!r}", InvalidArchive, path)
    models = [el for el in root.iter() if _local(el.tag) == "model"]
    ids = {el.get("id") for el in models}
    for el in models:
        source = el.get("source") or ""
        if source.lstrip("#") in ids:
            continue
        where = f"SED-ML file {path!r}: model {el.get('id')!r} has source {source!r}"
        if _SCHEME.match(source):
            raise ExternalModel(f"{where}, a URL or URN; models are taken only from the archive and nothing "
                                "is fetched", details={"entry": path, "source": source})
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), source)) if source else ""
        if (not source or "\\" in source or source.startswith("/") or resolved.startswith("../")
                or resolved == ".." or resolved not in files):
            raise ExternalModel(f"{where}, which is not a file of the archive", details={"entry": path,
                                                                                          "source": source})


def read_archive(data: bytes, limits: Limits) -> Archive:
    """Check an archive held in memory (nothing is written): entries, manifest, SED-ML model sources."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise InvalidArchive(f"the body is not a zip archive (a COMBINE archive is one): {exc}") from exc
    with zf:
        files = _entries(zf, limits)
        sedml = _manifest(zf, files)
        for path in sedml:
            _check_models(path, _read(zf, files[path]), files)
    return Archive(data, tuple(files), tuple(sedml))


#: the temporary directories' names: ``bioxen-omex-<pid of the process unpacking>-<random>``
PREFIX = "bioxen-omex-"


def sweep_orphans(base: str | None = None) -> list[str]:
    """Remove the unpacked archives of processes that are gone: an engine killed mid-run (a job chunk
    past its timeout) cannot remove its own. Run before a job unpacks; returns what it removed."""
    base = base or tempfile.gettempdir()
    removed = []
    for entry in os.scandir(base):
        pid = entry.name.removeprefix(PREFIX).split("-", 1)[0]
        if not entry.name.startswith(PREFIX) or not pid.isdigit() or not entry.is_dir(follow_symlinks=False):
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(entry.path)
        except PermissionError:  # alive, another user's
            pass
    return removed


@contextmanager
def extracted(archive: Archive, limits: Limits) -> Iterator[tuple[str, list[str]]]:
    """``(root, sedml_paths)``: the archive's regular files unpacked under a new temporary directory,
    which is removed when the block ends, however it ends. Files are created exclusively under the
    root (no entry can name a place outside it: :func:`read_archive` refused those names), with
    sizes counted as they are written."""
    with tempfile.TemporaryDirectory(prefix=f"{PREFIX}{os.getpid()}-") as root, \
            zipfile.ZipFile(io.BytesIO(archive.data)) as zf:
        written = 0
        for name in archive.files:
            info = zf.getinfo(name)
            target = os.path.join(root, *name.split("/"))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "xb") as out:
                for chunk in _stream(zf, info):
                    written += len(chunk)
                    if written > limits.unpacked_bytes:
                        raise ArchiveTooLarge(f"the archive's entries unpack to more than {limits.unpacked_bytes} "
                                              "bytes (the limit)")
                    out.write(chunk)
        yield root, list(archive.sedml)
