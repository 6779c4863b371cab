"""``.BTF.ext``: per-instruction function info, line info and CO-RE relocations.

Layout (kernel Documentation/bpf/btf.rst, "BTF.ext section"): a header with three
(offset, length) pairs relative to the end of the header; each block starts with a
``__u32`` record size, then for every ELF section ``{__u32 sec_name_off; __u32 num_info;
record[num_info]}``. Strings (section names, file names, source lines, access strings)
live in the string section of the accompanying ``.BTF``.

In an object file ``insn_off`` is a byte offset inside the section; here it is converted
to an instruction index (``// 8``), which is what the kernel expects at load time.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable, TypeVar

from ..errors import BTFError
from ._wire import MAGIC
from .types import CoreRelocation, CoreRelocKind, FuncInfo, LineInfo

if TYPE_CHECKING:
    from .container import BTF

INSN_SIZE = 8
_HEADER_MIN = 24  # magic .. line_info_len
_HEADER_CORE = 32  # + core_relo_off/len

T = TypeVar("T")
RecordParser = Callable[["BTF", tuple[int, ...]], T]

#: Minimum record size (bytes) and the number of leading u32 fields read from each record.
_FUNC_INFO_MIN, _LINE_INFO_MIN, _CORE_RELO_MIN = 8, 16, 16


def _insn_index(byte_off: int, what: str) -> int:
    if byte_off % INSN_SIZE:
        raise BTFError(f"{what} insn_off {byte_off} is not a multiple of the {INSN_SIZE}-byte instruction size")
    return byte_off // INSN_SIZE


def _func_info(btf: BTF, f: tuple[int, ...]) -> FuncInfo:
    if f[1] >= len(btf):
        raise BTFError(f"func_info refers to type id {f[1]}, out of range (this BTF has ids 0..{len(btf) - 1})")
    return FuncInfo(_insn_index(f[0], "func_info"), f[1])


def _line_info(btf: BTF, f: tuple[int, ...]) -> LineInfo:
    strings = btf._strings
    return LineInfo(_insn_index(f[0], "line_info"), strings.get(f[1]), strings.get(f[2]), f[3] >> 10, f[3] & 0x3FF)


def _core_relo(btf: BTF, f: tuple[int, ...]) -> CoreRelocation:
    if f[1] >= len(btf):
        raise BTFError(f"CO-RE relocation refers to type id {f[1]}, out of range (this BTF has ids 0..{len(btf) - 1})")
    try:
        kind = CoreRelocKind(f[3])
    except ValueError:
        raise BTFError(f"unknown CO-RE relocation kind {f[3]}") from None
    return CoreRelocation(_insn_index(f[0], "CO-RE relocation"), f[1], btf._strings.get(f[2]), kind)


@dataclass
class BTFExt:
    """The parsed ``.BTF.ext`` of an object, keyed by ELF section name."""

    func_info: dict[str, list[FuncInfo]] = field(default_factory=dict)
    line_info: dict[str, list[LineInfo]] = field(default_factory=dict)
    core_relocations: dict[str, list[CoreRelocation]] = field(default_factory=dict)

    @classmethod
    def from_bytes(cls, data: bytes, btf: BTF) -> BTFExt:
        """Parse ``.BTF.ext`` bytes; strings and type ids are resolved against ``btf``."""
        data = bytes(data)
        if len(data) < 8:
            raise BTFError(f".BTF.ext is {len(data)} bytes, too short for its header")
        magic = int.from_bytes(data[:2], "little")
        if magic == MAGIC:
            fmt = "<"
        elif magic == 0x9FEB:
            fmt = ">"
        else:
            raise BTFError(f"bad .BTF.ext magic 0x{magic:04x} (expected 0xeb9f)")
        if data[2] != 1:
            raise BTFError(f"unsupported .BTF.ext version {data[2]}")
        (hdr_len,) = struct.unpack_from(fmt + "I", data, 4)
        if hdr_len < _HEADER_MIN or hdr_len > len(data):
            raise BTFError(f".BTF.ext header length {hdr_len} is invalid for {len(data)} bytes of data")
        fi_off, fi_len, li_off, li_len = struct.unpack_from(fmt + "IIII", data, 8)
        cr_off = cr_len = 0
        if hdr_len >= _HEADER_CORE:
            cr_off, cr_len = struct.unpack_from(fmt + "II", data, 24)
        body = memoryview(data)[hdr_len:]
        return cls(
            func_info=_parse_block(body, fi_off, fi_len, fmt, _FUNC_INFO_MIN, 2, _func_info, btf, "func_info"),
            line_info=_parse_block(body, li_off, li_len, fmt, _LINE_INFO_MIN, 4, _line_info, btf, "line_info"),
            core_relocations=_parse_block(body, cr_off, cr_len, fmt, _CORE_RELO_MIN, 4, _core_relo, btf,
                                          "CO-RE relocation"),
        )

    def line_for(self, section: str, insn: int) -> LineInfo | None:
        """The line info in effect at instruction ``insn`` of ``section`` (the last one at or before it)."""
        best = None
        for li in self.line_info.get(section, ()):
            if li.insn_off <= insn and (best is None or li.insn_off >= best.insn_off):
                best = li
        return best


def _parse_block(body: memoryview, off: int, length: int, fmt: str, min_rec: int, nfields: int,
                 parse: RecordParser[T], btf: BTF, what: str) -> dict[str, list[T]]:
    result: dict[str, list[T]] = {}
    if length == 0:
        return result
    if off + length > len(body):
        raise BTFError(f".BTF.ext {what} block [{off}, {off + length}) is out of bounds of {len(body)} bytes")
    if length < 4:
        raise BTFError(f".BTF.ext {what} block is {length} bytes, too short for its record size")
    block = body[off:off + length]
    (rec_size,) = struct.unpack_from(fmt + "I", block, 0)
    if rec_size < min_rec or rec_size % 4:
        raise BTFError(f".BTF.ext {what} record size {rec_size} is invalid (at least {min_rec}, multiple of 4)")
    rec = struct.Struct(fmt + "I" * nfields)
    pos = 4
    while pos < length:
        if pos + 8 > length:
            raise BTFError(f".BTF.ext {what}: truncated section header at byte {pos}")
        name_off, count = struct.unpack_from(fmt + "II", block, pos)
        pos += 8
        name = btf._strings.get(name_off)
        if count == 0:
            raise BTFError(f".BTF.ext {what}: section {name!r} has zero records")
        if pos + count * rec_size > length:
            raise BTFError(f".BTF.ext {what}: section {name!r} claims {count} records, more than the block holds")
        records = result.setdefault(name, [])
        for _ in range(count):
            records.append(parse(btf, rec.unpack_from(block, pos)))
            pos += rec_size
    return result


def pack_func_info(infos: Iterable[FuncInfo]) -> bytes:
    """``struct bpf_func_info`` array for ``BPF_PROG_LOAD`` (``insn_off`` in instructions)."""
    return b"".join(struct.pack("=II", fi.insn_off, fi.type_id) for fi in infos)


def pack_line_info(infos: Iterable[LineInfo], btf: BTF) -> bytes:
    """``struct bpf_line_info`` array for ``BPF_PROG_LOAD``; strings are looked up in ``btf``."""
    out = []
    for li in infos:
        if li.column > 0x3FF or li.line >= 1 << 22:
            raise BTFError(f"line info {li.file_name}:{li.line}:{li.column} does not fit the 22/10-bit encoding")
        out.append(struct.pack(
            "=IIII", li.insn_off, btf.string_offset(li.file_name), btf.string_offset(li.line_text),
            (li.line << 10) | li.column,
        ))
    return b"".join(out)
