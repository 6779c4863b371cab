"""Fuzzing the ELF loader: corrupted, truncated and re-headered objects raise only
ELFError/BTFError (pybpf FormatErrors), never struct.error, IndexError, KeyError or
pyelftools' own exceptions, and never hang.

The cases are generated from a fixed seed (so a failure reproduces) from the real objects the other
ELF tests compile (2,000 per strategy, 14,000 in all).
"""

from __future__ import annotations

import random
import struct
from pathlib import Path
from typing import Callable

import pytest

import pybpf.cc
from pybpf.elf import load_object_bytes
from pybpf.errors import BTFError, ELFError

PROGS = Path(__file__).parent / "progs_elf"
CASES_PER_STRATEGY = 2000
_INTERESTING = (0, 1, 2, 7, 8, 0x40, 0xFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 1 << 32, (1 << 63) - 1, (1 << 64) - 1)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    out = tmp_path_factory.mktemp("fuzz")
    return [pybpf.cc.compile(PROGS / f"{n}.c", output=out / f"{n}.o", include_dirs=[PROGS]).read_bytes()
            for n in ("maps", "globals", "subprogs", "legacy_maps", "core", "misc", "struct_ops")]


def _shdrs(data: bytes) -> list[int]:
    """Offsets of the section headers of a well-formed ELF64."""
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shnum, = struct.unpack_from("<H", data, 0x3C)
    return [shoff + i * 64 for i in range(shnum)]


def _sections(data: bytes) -> list[tuple[int, int]]:
    out = []
    for h in _shdrs(data):
        off, size = struct.unpack_from("<QQ", data, h + 0x18)
        if size and off + size <= len(data):
            out.append((off, size))
    return out


def truncate(r: random.Random, data: bytes) -> bytes:
    return data[: r.randrange(len(data))]


def flip_bytes(r: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(r.randint(1, 16)):
        b[r.randrange(len(b))] = r.randrange(256)
    return bytes(b)


def corrupt_section(r: random.Random, data: bytes) -> bytes:
    """Damage bytes inside one section (symbols, relocations, BTF, .BTF.ext, code, maps...)."""
    off, size = r.choice(_sections(data))
    b = bytearray(data)
    for _ in range(r.randint(1, 6)):
        b[off + r.randrange(size)] = r.randrange(256)
    return bytes(b)


def section_header_field(r: random.Random, data: bytes) -> bytes:
    """Set one field of one section header to an edge value or a random one."""
    b = bytearray(data)
    h = r.choice(_shdrs(data))
    field, fmt = r.choice([(0x00, "<I"), (0x04, "<I"), (0x08, "<Q"), (0x18, "<Q"), (0x20, "<Q"),
                           (0x28, "<I"), (0x2C, "<I"), (0x30, "<Q"), (0x38, "<Q")])
    bits = struct.calcsize(fmt) * 8
    value = r.choice(_INTERESTING) if r.random() < 0.6 else r.getrandbits(bits)
    if r.random() < 0.3:  # near the real value: off-by-a-little sizes and offsets
        old, = struct.unpack_from(fmt, b, h + field)
        value = max(0, old + r.randint(-16, 16))
    struct.pack_into(fmt, b, h + field, value & ((1 << bits) - 1))
    return bytes(b)


def random_section_table(r: random.Random, data: bytes) -> bytes:
    """Replace several whole section headers with random but plausible ones (types the loader
    reads: PROGBITS code and data, SYMTAB, STRTAB, REL, NOBITS), pointing anywhere in the file."""
    b = bytearray(data)
    headers = _shdrs(data)
    for h in r.sample(headers, k=min(len(headers), r.randint(1, 4))):
        sh_type = r.choice((1, 1, 2, 3, 8, 9, 4, 0, r.getrandbits(32)))
        flags = r.choice((0, 2, 3, 6, r.getrandbits(64)))
        off = r.randrange(len(data) + 64)
        size = r.choice((0, 8, 16, 24, r.randrange(len(data) + 64), r.getrandbits(64)))
        link, info = r.randrange(len(headers) + 2), r.randrange(len(headers) + 2)
        entsize = r.choice((0, 8, 16, 24, r.getrandbits(16)))
        name = struct.unpack_from("<I", b, h)[0] if r.random() < 0.7 else r.getrandbits(32)
        struct.pack_into("<IIQQQQIIQQ", b, h, name, sh_type, flags, 0, off, size, link, info, 8, entsize)
    return bytes(b)


def elf_header_field(r: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    field, fmt = r.choice([(0x28, "<Q"), (0x3A, "<H"), (0x3C, "<H"), (0x3E, "<H"), (0x04, "<B"),
                           (0x05, "<B"), (0x10, "<H"), (0x12, "<H")])
    bits = struct.calcsize(fmt) * 8
    value = r.choice(_INTERESTING) if r.random() < 0.5 else r.getrandbits(bits)
    struct.pack_into(fmt, b, field, value & ((1 << bits) - 1))
    return bytes(b)


def splice(r: random.Random, data: bytes) -> bytes:
    """Zero, duplicate or drop a range of bytes."""
    a = r.randrange(len(data))
    n = r.randint(1, 256)
    choice = r.randrange(3)
    if choice == 0:
        return data[:a] + bytes(min(n, len(data) - a)) + data[a + n:]
    if choice == 1:
        return data[:a] + data[a:a + n] + data[a:]
    return data[:a] + data[a + n:]


STRATEGIES: list[Callable[[random.Random, bytes], bytes]] = [
    truncate, flip_bytes, corrupt_section, section_header_field, random_section_table, elf_header_field,
    splice,
]


@pytest.mark.parametrize("strategy", STRATEGIES, ids=lambda s: s.__name__)
def test_corrupted_objects_raise_only_format_errors(corpus: list[bytes], strategy: Callable[[random.Random, bytes], bytes]) -> None:
    r = random.Random(f"pybpf-elf-{strategy.__name__}")
    rejected = 0
    for case in range(CASES_PER_STRATEGY):
        data = strategy(r, r.choice(corpus))
        try:
            load_object_bytes(data, name="fuzz.o")
        except (ELFError, BTFError) as exc:
            assert str(exc), "an error must say what is wrong"
            rejected += 1
        except Exception as exc:  # noqa: BLE001 - the point of the test
            pytest.fail(f"case {case} of {strategy.__name__} raised {type(exc).__name__}: {exc}")
    # the mutations must actually reach the error paths, or the test proves nothing
    assert rejected > CASES_PER_STRATEGY // 10, f"only {rejected} rejected"
