"""ObjectSpec, ProgramSpec, MapSpec: an eBPF object as pure data.

A spec is what an ELF object (or a code generator) describes, before anything touches the
kernel: parsing never makes a syscall, and the same spec feeds the kernel loader and the
userspace VM. Specs are mutable on purpose, so a user can set ``.rodata`` constants and map
sizes before load::

    spec = pybpf.ObjectSpec.from_file("prog.bpf.o")
    spec.rodata["min_us"] = 1000
    spec.maps["events"].max_entries = 1 << 20
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Iterator, MutableMapping

from .enums import AttachType, MapFlags, MapType, PinType, ProgramType
from .errors import VariableEncodingError

if TYPE_CHECKING:
    from pathlib import Path

    from .btf import BTF
    from .btf.types import CoreRelocation, FuncInfo, LineInfo
    from .isa import Instruction


class RelocationKind(Enum):
    """What an instruction refers to that only the loader can fill in."""

    MAP_FD = "map_fd"  # ld_imm64 of a map (src=BPF_PSEUDO_MAP_FD)
    MAP_VALUE = "map_value"  # ld_imm64 of an address in a global-data map (BPF_PSEUDO_MAP_VALUE)
    KCONFIG = "kconfig"  # ld/ldx of a .kconfig extern (a value in the .kconfig map)
    KSYM = "ksym"  # ld_imm64 of a typed or untyped .ksyms variable (BPF_PSEUDO_BTF_ID)
    KFUNC = "kfunc"  # call of an extern kernel function (BPF_PSEUDO_KFUNC_CALL)


@dataclass
class Relocation:
    """One instruction of a program that the loader must patch.

    ``insn_index`` counts instructions in :attr:`ProgramSpec.instructions` (an LD_IMM64 counts as
    two slots, like the kernel counts them). ``symbol`` is the map name for MAP_FD/MAP_VALUE and
    the extern name otherwise; ``offset`` is the byte offset into the map value for MAP_VALUE.
    """

    insn_index: int
    kind: RelocationKind
    symbol: str
    offset: int = 0


@dataclass
class ProgramSpec:
    """One eBPF program: its instructions, already linked with the subprograms it calls."""

    name: str
    section: str
    type: ProgramType
    instructions: list[Instruction]
    expected_attach_type: AttachType | None = None
    attach_to: str = ""  # what the section name names: "syscalls/sys_enter_execve", "/bin/bash:readline", ...
    sleepable: bool = False
    license: str = ""
    kernel_version: int = 0
    flags: int = 0  # ProgramFlags besides sleepable
    relocations: list[Relocation] = field(default_factory=list)
    core_relocations: list[CoreRelocation] = field(default_factory=list)  # insn_off: index in `instructions`
    func_info: list[FuncInfo] = field(default_factory=list)  # insn_off: index in `instructions`
    line_info: list[LineInfo] = field(default_factory=list)  # insn_off: index in `instructions`
    # the section-level layout it was linked from (for disassembly with original offsets)
    section_offset: int = 0  # byte offset of the function in its ELF section

    def copy(self) -> ProgramSpec:
        return copy.deepcopy(self)


@dataclass
class MapSpec:
    """One map, as the object defines it."""

    name: str
    type: MapType
    key_size: int
    value_size: int
    max_entries: int
    flags: MapFlags = MapFlags.NONE
    numa_node: int = 0
    map_extra: int = 0
    pinning: PinType = PinType.NONE
    key_type_id: int = 0  # in ObjectSpec.btf; 0 when the object gives sizes only
    value_type_id: int = 0
    inner_map: MapSpec | None = None  # map-in-map template
    # initial slots: key -> value; for map-in-map the value is an inner map name,
    # for a prog array a program name
    contents: dict[int, str | bytes] = field(default_factory=dict)
    data: bytearray | None = None  # initial bytes of a global-data map (.data/.rodata/.bss/.kconfig)
    section: str = ""  # ".maps", "maps", ".rodata", ...
    freeze: bool = False  # .rodata and .kconfig are frozen after being written
    # STRUCT_OPS maps: function-pointer member name -> the program the object assigns to it
    # (``data`` holds the struct's initial bytes, ``value_type_id`` its type in ObjectSpec.btf)
    struct_ops_programs: dict[str, str] = field(default_factory=dict)

    def copy(self) -> MapSpec:
        return copy.deepcopy(self)


@dataclass(frozen=True)
class VariableSpec:
    """A global variable of a data section, located through the object's BTF."""

    name: str
    map_name: str
    offset: int
    size: int
    type_id: int


def decode_variable(btf: BTF | None, var: VariableSpec, raw: bytes) -> object:
    """The value of global ``var`` from its bytes: through its BTF type when it has one, else the bytes."""
    return btf.decode_value(var.type_id, raw) if btf is not None and var.type_id else raw


def encode_variable(btf: BTF | None, var: VariableSpec, value: object) -> bytes:
    """The bytes of global ``var`` holding ``value`` (bytes are taken as they are)."""
    if isinstance(value, (bytes, bytearray)):
        raw = bytes(value)
    elif btf is not None and var.type_id:
        raw = btf.encode_value(var.type_id, value)
    else:
        raise VariableEncodingError(f"{var.name!r} has no BTF type (the object was built without -g); assign bytes")
    if len(raw) != var.size:
        raise ValueError(f"{var.name!r} is {var.size} bytes, got {len(raw)}")
    return raw


class ExternKind(Enum):
    KCONFIG = "kconfig"
    KSYM = "ksym"
    KFUNC = "kfunc"


@dataclass(frozen=True)
class ExternSpec:
    """An extern the loader resolves: a kconfig value, a kernel symbol or a kernel function."""

    name: str
    kind: ExternKind
    type_id: int  # in ObjectSpec.btf (VAR's type, or the FUNC for a kfunc)
    weak: bool = False
    offset: int = 0  # in the .kconfig map, for KCONFIG
    size: int = 0


class DataView(MutableMapping[str, object]):
    """Globals of one data section by name: ``spec.rodata["min_us"] = 1000``.

    Reads and writes go to the map's initial bytes through the variable's BTF type.
    """

    def __init__(self, spec: ObjectSpec, map_name: str) -> None:
        self._spec = spec
        self._map_name = map_name

    def _vars(self) -> dict[str, VariableSpec]:
        return {v.name: v for v in self._spec.variables.values() if v.map_name == self._map_name}

    def _var(self, name: str) -> VariableSpec:
        try:
            return self._vars()[name]
        except KeyError:
            known = ", ".join(sorted(self._vars())) or "none"
            raise KeyError(f"{self._map_name} has no variable {name!r} (it has: {known})") from None

    def __getitem__(self, name: str) -> object:
        var = self._var(name)
        data = self._spec.maps[self._map_name].data
        assert data is not None
        return decode_variable(self._spec.btf, var, bytes(data[var.offset : var.offset + var.size]))

    def __setitem__(self, name: str, value: object) -> None:
        var = self._var(name)
        data = self._spec.maps[self._map_name].data
        assert data is not None
        data[var.offset : var.offset + var.size] = encode_variable(self._spec.btf, var, value)

    def __delitem__(self, name: str) -> None:
        raise TypeError("variables of an object cannot be deleted")

    def __iter__(self) -> Iterator[str]:
        return iter(self._vars())

    def __len__(self) -> int:
        return len(self._vars())


@dataclass
class ObjectSpec:
    """Everything an eBPF object file describes, as pure data."""

    programs: dict[str, ProgramSpec] = field(default_factory=dict)
    maps: dict[str, MapSpec] = field(default_factory=dict)
    variables: dict[str, VariableSpec] = field(default_factory=dict)
    externs: dict[str, ExternSpec] = field(default_factory=dict)
    license: str = ""
    kernel_version: int = 0
    btf: BTF | None = None
    path: str = ""

    @classmethod
    def from_file(cls, path: str | Path) -> ObjectSpec:
        """Read an eBPF ELF object (as clang builds it) into a spec. Makes no syscall."""
        from pathlib import Path

        from .elf import load_object

        return load_object(Path(path))

    @classmethod
    def from_bytes(cls, data: bytes, *, name: str = "<bytes>") -> ObjectSpec:
        from .elf import load_object_bytes

        return load_object_bytes(data, name=name)

    def _data_map(self, section: str) -> DataView:
        for name, m in self.maps.items():
            if m.section == section and m.data is not None:
                return DataView(self, name)
        raise KeyError(f"the object has no {section} section")

    @property
    def rodata(self) -> DataView:
        return self._data_map(".rodata")

    @property
    def data(self) -> DataView:
        return self._data_map(".data")

    @property
    def bss(self) -> DataView:
        return self._data_map(".bss")

    def copy(self) -> ObjectSpec:
        """A deep copy (the BTF, which is immutable, is shared)."""
        memo = {id(self.btf): self.btf}
        return copy.deepcopy(self, memo)
