"""Types of bpftrace-language values, with their sizes and in-memory layout.

The layouts here are the contract between code generation (which writes values into maps and
event records) and the runtime (which reads them back):

- ``IntType(bits, signed)``: little-endian integer of ``bits/8`` bytes.
- ``StringType(n)``: ``n`` bytes, NUL-terminated when shorter.
- ``BufType(n)``: ``u8 length`` then ``n`` data bytes (``size = n + 1``).
- ``PointerType``: 8-byte address; ``RecordType``/``ArrayType``: the C layout (from BTF,
  a tracepoint format file or a script's C definition).
- ``TupleType``: its elements at C-aligned offsets (``offsets``), size rounded to the alignment.
- ``StackType(kernel, mode, limit)``: ``u64 nr`` then ``limit`` u64 addresses; a user stack also
  carries ``u64 pid`` after ``nr`` (for symbolization): size ``8 + 8*limit`` (+8 for ustack).
- ``KsymType``/``UsymType``: ``u64`` address (``UsymType`` adds ``u64 pid``).
- ``InetType``: ``u64 family`` then 16 address bytes.  ``MacAddrType``: 6 bytes.
- ``TimestampType``/``UsernameType``/``StrerrorType``/``CgroupPathType``/``ProbeIdType``: ``u64``
  (nanoseconds / uid / errno / cgroup id / probe index) formatted by the runtime.
- ``AggType``: the per-CPU map value of an aggregation (see :class:`AggKind`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Union


class StackMode(enum.StrEnum):
    """How ``kstack``/``ustack`` are printed."""

    BPFTRACE = "bpftrace"
    PERF = "perf"
    RAW = "raw"


class AggKind(enum.StrEnum):
    """Aggregation functions a map value can hold."""

    COUNT = "count"
    SUM = "sum"
    AVG = "avg"
    MIN = "min"
    MAX = "max"
    STATS = "stats"
    HIST = "hist"
    LHIST = "lhist"


@dataclass(frozen=True, slots=True)
class VoidType:
    """No value (statements, ``printf``...)."""

    size: int = 0
    align: int = 1

    def __str__(self) -> str:
        return "none"


@dataclass(frozen=True, slots=True)
class IntType:
    """An integer of ``bits`` (8/16/32/64) with signedness."""

    bits: int = 64
    signed: bool = True

    @property
    def size(self) -> int:
        return self.bits // 8

    @property
    def align(self) -> int:
        return self.size

    def __str__(self) -> str:
        return f"{'' if self.signed else 'unsigned '}int{self.bits}"


@dataclass(frozen=True, slots=True)
class StringType:
    """A fixed-size string buffer of ``size`` bytes (default 64)."""

    size: int = 64
    align: int = 1

    def __str__(self) -> str:
        return f"string[{self.size}]"


@dataclass(frozen=True, slots=True)
class BufType:
    """``buf(p, n)``: ``u8 length`` followed by ``length`` (<= ``capacity``) bytes."""

    capacity: int = 64
    align: int = 1

    @property
    def size(self) -> int:
        return self.capacity + 1

    def __str__(self) -> str:
        return f"buffer[{self.capacity}]"


@dataclass(frozen=True, slots=True)
class Field:
    """A member of a record: ``name``, ``type``, byte ``offset``; bitfields set ``bits``/``bit_offset``.

    ``data_loc`` marks a tracepoint ``__data_loc`` string (the u32 at ``offset`` holds
    ``length << 16 | offset`` of the real bytes inside the record).
    """

    name: str
    type: Type
    offset: int
    bits: int = 0
    bit_offset: int = 0
    data_loc: bool = False


@dataclass(frozen=True, slots=True)
class RecordType:
    """A struct or union: ``name`` as written (``"struct task_struct"``), ``size``, and either
    ``fields`` (tracepoint args, C definitions) or ``btf_id`` (looked up lazily in kernel BTF)."""

    name: str
    size: int
    fields: tuple[Field, ...] | None = field(default=None, compare=False)
    btf_id: int | None = None
    align: int = 8

    def field(self, name: str) -> Field | None:
        """The member called ``name`` when the fields are known."""
        for f in self.fields or ():
            if f.name == name:
                return f
        return None

    def __str__(self) -> str:
        return self.name


class AddrSpace(enum.StrEnum):
    """Which memory a pointer refers to: codegen picks probe_read_kernel or probe_read_user."""

    KERNEL = "kernel"
    USER = "user"


@dataclass(frozen=True, slots=True)
class PointerType:
    """A pointer; ``target`` is what it points to (``VoidType`` for ``void *``)."""

    target: Type
    space: AddrSpace = field(default=AddrSpace.KERNEL, compare=False)
    size: int = 8
    align: int = 8

    def __str__(self) -> str:
        return f"{self.target} *"


@dataclass(frozen=True, slots=True)
class ArrayType:
    """``elem[count]``."""

    elem: Type
    count: int

    @property
    def size(self) -> int:
        return self.elem.size * self.count

    @property
    def align(self) -> int:
        return self.elem.align

    def __str__(self) -> str:
        return f"{self.elem}[{self.count}]"


@dataclass(frozen=True, slots=True)
class TupleType:
    """``(a, b, ...)``: elements at C-aligned ``offsets``."""

    elems: tuple[Type, ...]

    @property
    def offsets(self) -> tuple[int, ...]:
        out, off = [], 0
        for t in self.elems:
            off = _round_up(off, max(1, t.align))
            out.append(off)
            off += t.size
        return tuple(out)

    @property
    def align(self) -> int:
        return max((t.align for t in self.elems), default=1)

    @property
    def size(self) -> int:
        if not self.elems:
            return 0
        return _round_up(self.offsets[-1] + self.elems[-1].size, self.align)

    def __str__(self) -> str:
        return "(" + ",".join(str(t) for t in self.elems) + ")"


@dataclass(frozen=True, slots=True)
class StackType:
    """``kstack``/``ustack``: ``u64 nr`` [``u64 pid`` for user stacks] then ``limit`` addresses."""

    kernel: bool = True
    mode: StackMode = StackMode.BPFTRACE
    limit: int = 127
    align: int = 8

    @property
    def size(self) -> int:
        return 8 + (0 if self.kernel else 8) + 8 * self.limit

    def __str__(self) -> str:
        return f"{'k' if self.kernel else 'u'}stack[{self.mode},{self.limit}]"


@dataclass(frozen=True, slots=True)
class KsymType:
    """``ksym(addr)`` / ``func`` in kernel probes: a u64 address printed as a kernel symbol."""

    size: int = 8
    align: int = 8

    def __str__(self) -> str:
        return "ksym"


@dataclass(frozen=True, slots=True)
class UsymType:
    """``usym(addr)`` / ``func`` in user probes: u64 address + u64 pid, printed as a symbol."""

    size: int = 16
    align: int = 8

    def __str__(self) -> str:
        return "usym"


@dataclass(frozen=True, slots=True)
class InetType:
    """``ntop(...)``: u64 address family + 16 address bytes."""

    size: int = 24
    align: int = 8

    def __str__(self) -> str:
        return "inet"


@dataclass(frozen=True, slots=True)
class MacAddrType:
    """``macaddr(p)``: 6 bytes."""

    size: int = 6
    align: int = 1

    def __str__(self) -> str:
        return "mac_address"


class U64Kind(enum.StrEnum):
    """u64 values the runtime formats specially."""

    TIMESTAMP = "timestamp"      # strftime(fmt, ns): ns since boot
    USERNAME = "username"        # uid
    STRERROR = "strerror"        # errno
    CGROUP_PATH = "cgroup_path"  # cgroup id
    PROBE = "probe"              # probe index (``probe`` builtin)


@dataclass(frozen=True, slots=True)
class SpecialU64Type:
    """A u64 formatted by the runtime (see :class:`U64Kind`); ``fmt`` for strftime."""

    kind: U64Kind
    fmt: str = ""
    size: int = 8
    align: int = 8

    def __str__(self) -> str:
        return str(self.kind)


@dataclass(frozen=True, slots=True)
class AggType:
    """A map value that is an aggregation; ``signed`` follows the aggregated expression.

    ``hist``: ``bits`` (0..5, default 0). ``lhist``: ``lo``, ``hi``, ``step``.
    """

    kind: AggKind
    signed: bool = True
    bits: int = 0
    lo: int = 0
    hi: int = 0
    step: int = 0
    align: int = 8

    @property
    def size(self) -> int:
        return 8 * (2 if self.kind in (AggKind.AVG, AggKind.STATS) else 1)

    @property
    def buckets(self) -> int:
        """Number of histogram buckets (hist: log2 buckets incl. negatives and zero)."""
        if self.kind is AggKind.HIST:
            return 2 + 64 * (1 << self.bits)
        if self.kind is AggKind.LHIST:
            return (self.hi - self.lo) // self.step + 3
        return 0

    def __str__(self) -> str:
        return str(self.kind)


Type = Union[VoidType, IntType, StringType, BufType, RecordType, PointerType, ArrayType, TupleType,
             StackType, KsymType, UsymType, InetType, MacAddrType, SpecialU64Type, AggType]

INT64 = IntType(64, True)
UINT64 = IntType(64, False)
INT32 = IntType(32, True)
UINT32 = IntType(32, False)
UINT8 = IntType(8, False)
VOID = VoidType()
STRING = StringType(64)


def _round_up(n: int, a: int) -> int:
    return (n + a - 1) // a * a


def is_int(t: Type) -> bool:
    """Integers and values that behave like them in arithmetic and comparisons."""
    return isinstance(t, IntType)


def same_kind(a: Type, b: Type) -> bool:
    """Whether a map/variable holding ``a`` may later hold ``b`` (bpftrace's rule)."""
    if isinstance(a, IntType) and isinstance(b, IntType):
        return True
    if isinstance(a, StringType) and isinstance(b, StringType):
        return True
    if isinstance(a, BufType) and isinstance(b, BufType):
        return True
    if isinstance(a, TupleType) and isinstance(b, TupleType):
        return len(a.elems) == len(b.elems) and all(same_kind(x, y) for x, y in zip(a.elems, b.elems))
    return a == b


def unify(a: Type, b: Type) -> Type:
    """The type that holds both ``a`` and ``b`` (wider int, longer string); assumes ``same_kind``."""
    if isinstance(a, IntType) and isinstance(b, IntType):
        return IntType(max(a.bits, b.bits), a.signed or b.signed) if a != b else a
    if isinstance(a, StringType) and isinstance(b, StringType):
        return a if a.size >= b.size else b
    if isinstance(a, BufType) and isinstance(b, BufType):
        return a if a.capacity >= b.capacity else b
    if isinstance(a, TupleType) and isinstance(b, TupleType):
        return TupleType(tuple(unify(x, y) for x, y in zip(a.elems, b.elems)))
    return a


def kind_word(t: Type) -> str:
    """The coarse word bpftrace uses in some messages: ``integer``, ``string``, ``buffer``, ``tuple``..."""
    words = {IntType: "integer", StringType: "string", BufType: "buffer", TupleType: "tuple",
             PointerType: "pointer", RecordType: "record", ArrayType: "array", StackType: "stack"}
    return words.get(type(t), str(t))


def type_name(t: Type) -> str:
    """The spelling bpftrace uses in messages (``int64``, ``string[2]``...)."""
    return str(t)
