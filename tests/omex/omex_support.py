"""Archives for the OMEX tests: the published ones in ../shared/omex (BioSimulators test suite, with their
reference reports), the two small examples the services document, and hostile ones built here entry by
entry (names, modes, sizes and manifests that a well-behaved writer would never produce)."""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(ROOT.parent / "shared" / "omex") if (ROOT.parent / "shared" / "omex").is_dir() \
    else Path("/work/shared/omex")
EXAMPLES = ROOT / "services" / "bioxen_services" / "omex" / "examples"
REPRESSILATOR = "Elowitz-Nature-2000-Repressilator"
ECOLI = "Escherichia-coli-core-metabolism"

MANIFEST = """<?xml version="1.0" encoding="UTF-8"?>
<omexManifest xmlns="http://identifiers.org/combine.specifications/omex-manifest">
  <content location="." format="http://identifiers.org/combine.specifications/omex"/>
  <content location="./manifest.xml" format="http://identifiers.org/combine.specifications/omex-manifest"/>
{extra}</omexManifest>
"""
SEDML_FORMAT = "http://identifiers.org/combine.specifications/sed-ml"
#: the hardening service's archive limits (well below the defaults, above what the test archives need)
LIMITS = {"BIOXEN_OMEX_MAX_ENTRIES": "20", "BIOXEN_OMEX_MAX_UNPACKED_BYTES": str(3 << 20),
          "BIOXEN_OMEX_MAX_RATIO": "200", "BIOXEN_MAX_BODY_BYTES": str(8 << 20),
          # a request's deadline: the slow archive below passes it and its engine is killed
          "BIOXEN_REQUEST_TIMEOUT_SECONDS": "3"}


def published(name: str) -> bytes:
    """A published archive from ../shared/omex."""
    return (SHARED / name / f"{name}.omex").read_bytes()


def example(service: str) -> bytes:
    return (EXAMPLES / f"{service}.omex").read_bytes()


def entries(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


def manifest(*contents: tuple[str, str]) -> str:
    return MANIFEST.format(extra="".join(f'  <content location="{loc}" format="{fmt}"/>\n' for loc, fmt in contents))


def build(files: dict[str, bytes | str], *, modes: dict[str, int] | None = None, level: int = 6) -> bytes:
    """A zip of ``files`` in order, each entry named exactly as given (nothing normalised), with a Unix
    mode where ``modes`` gives one (symbolic links: ``0o120777``)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.create_system = 3
            info.external_attr = (modes or {}).get(name, 0o100644) << 16
            zf.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=level)
    return buffer.getvalue()


def with_entry(base: bytes, name: str, data: bytes | str, **kwargs) -> bytes:
    """``base`` with one more entry (added last)."""
    files = entries(base)
    files[name] = data
    return build(files, **kwargs)


def declare_size(data: bytes, name: str, size: int) -> bytes:
    """``data`` with entry ``name``'s uncompressed size rewritten to ``size`` in both its local header and
    the central directory: a header that lies about what the stream unpacks to."""
    out = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        info = zf.getinfo(name)
    struct.pack_into("<I", out, info.header_offset + 22, size)  # local file header: uncompressed size
    position = data.find(b"PK\x01\x02")
    while position != -1:
        name_length = struct.unpack_from("<H", out, position + 28)[0]
        if bytes(out[position + 46:position + 46 + name_length]).decode() == name:
            struct.pack_into("<I", out, position + 24, size)  # central directory: uncompressed size
            return bytes(out)
        position = data.find(b"PK\x01\x02", position + 4)
    raise KeyError(name)


def comparable(answer: dict) -> dict:
    """An answer without what differs between two runs of one archive: each task's run time."""
    return {**answer, "tasks": [{k: v for k, v in task.items() if k != "seconds"} for task in answer["tasks"]]}
