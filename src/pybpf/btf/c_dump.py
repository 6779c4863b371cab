"""BTF to C: a header (``vmlinux.h``) that clang compiles for the BPF target.

>>> from pybpf.btf import kernel_btf
>>> from pybpf.btf.c_dump import dump_c
>>> header = dump_c(kernel_btf())
>>> "struct task_struct {" in header
True

How the order is chosen. Every type that has a C declaration of its own (named structs,
unions and enums, typedefs, forward declarations, anonymous enums that nothing inlines) is
emitted in type-id order, but only after what its text needs:

* a use *by value* (a member, an array element, what a by-value typedef names) needs the
  complete type: its definition is emitted first, recursively;
* a use through a pointer only needs the name: a named struct/union gets a forward
  declaration (``struct foo;``) if it is not declared yet, which also breaks every cycle
  (cycles can only go through pointers);
* a typedef name must be declared before any use, even through a pointer;
* anonymous structs, unions and enums are written inline where they are used, so what
  *their* members need is needed by the user.

Member offsets and record sizes come out exactly as BTF says (see
:mod:`pybpf.btf.c_dump_layout`): records that need it are ``__attribute__((packed))`` and
gaps are filled with unnamed bit-fields. Enums whose size is not what clang would choose
get ``__attribute__((mode(...)))``.
"""

from __future__ import annotations

import gc
import logging
import sys
from contextlib import contextmanager
from itertools import chain, compress, repeat
from operator import itemgetter
from typing import TYPE_CHECKING, Iterator, NamedTuple

from ..errors import BTFError
from .c_dump_layout import Layout, RecordPlan, pad_type
from .c_dump_names import Names
from ._decode import MemberRow
from .types import IntEncoding, Kind, Type

if TYPE_CHECKING:
    from .container import BTF

log = logging.getLogger("pybpf.btf.c_dump")

__all__ = ["dump_c", "FORMAT_VERSION"]

#: Bumped whenever the text dump_c produces changes, in this file or in c_dump_layout /
#: c_dump_names (pybpf.cc caches the generated vmlinux.h by a hash of this file).
FORMAT_VERSION = 2

_PRESERVE_PUSH = (
    "#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n"
    "#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)\n"
    "#endif\n\n"
)
_PRESERVE_POP = "#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute pop\n#endif\n\n"

#: ``__attribute__((mode(...)))`` that gives an enum each size
_ENUM_MODE = {1: "QI", 2: "HI", 4: "SI", 8: "DI"}
#: integer types standing in for an anonymous enum where it cannot be written inline
_INT_FOR_SIZE = {
    (1, False): "unsigned char", (2, False): "unsigned short", (4, False): "unsigned int",
    (8, False): "unsigned long long", (1, True): "signed char", (2, True): "short",
    (4, True): "int", (8, True): "long long",
}
_QUALIFIER = {Kind.CONST: "const", Kind.VOLATILE: "volatile", Kind.RESTRICT: "restrict"}
_RECORD_KEYWORD = {Kind.STRUCT: "struct", Kind.UNION: "union"}
_HOLE = "\x00"  # stands for the declared name in a cached declarator
_MAX_CHAIN = 4096  # pointer/array/modifier steps in one declarator before it must be a cycle
_INT32_MIN = -(1 << 31)
_INT64_MIN = -(1 << 63)


def dump_c(btf: BTF, *, header_guard: str | None = "__VMLINUX_H__") -> str:
    """Render every type of ``btf`` as a C header that compiles as ``vmlinux.h``.

    ``header_guard`` names the ``#ifndef`` include guard (None or "" for none). Structs and
    unions are wrapped in ``#pragma clang attribute push (preserve_access_index)`` unless
    the includer defines ``BPF_NO_PRESERVE_ACCESS_INDEX``, so field accesses on them are
    CO-RE relocatable. Raises :class:`~pybpf.errors.BTFError` for a type graph C cannot
    express (a struct containing itself by value).
    """
    log.debug("dumping %d BTF types as C", len(btf))
    with _recursion_room(10_000), _no_gc():
        dumper = _Dumper(btf)
        try:
            body = dumper.run()
        except RecursionError:
            raise BTFError("the BTF type graph is cyclic through non-pointer types (or absurdly "
                           "deep); it cannot be written as C") from None
        finally:
            # free the dump's ~10^5 objects by reference count while the collector is still
            # paused; otherwise its first pass afterwards walks every one of them
            records = dumper.records
            dumper.release()
            del dumper
    head = f"#ifndef {header_guard}\n#define {header_guard}\n\n" if header_guard else ""
    tail = f"#endif /* {header_guard} */\n" if header_guard else ""
    if records:  # clang warns about an attribute region that applies to nothing
        body = f"{_PRESERVE_PUSH}{body}{_PRESERVE_POP}"
    return f"{head}{body}{tail}"


@contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector: the dump allocates ~10^6 small objects next to a
    decoded BTF of ~10^6 more, and every collection would walk all of them (it halves the time)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@contextmanager
def _recursion_room(limit: int) -> Iterator[None]:
    """Deep by-value nesting recurses; make sure the interpreter allows it, then restore."""
    old = sys.getrecursionlimit()
    if old < limit:
        sys.setrecursionlimit(limit)
    try:
        yield
    finally:
        if old < limit:
            sys.setrecursionlimit(old)


class _Dumper:
    """One dump: emission state, the output chunks, and cached declarators."""

    def __init__(self, btf: BTF) -> None:
        self.btf = btf
        self.n = len(btf)
        #: ids with a declaration of their own, in id order (the rest is decoded only if used)
        #: raw kind number of every id (dispatch tables below are keyed by it too)
        self.kinds = btf.kinds()
        self.top = list(compress(range(self.n), self.kinds.translate(_TOP_MASK)))
        self.t = _LazyTypes(btf)
        self.t.prefill(self.top)
        self.names = Names((tid, self.t[tid]) for tid in self.top)
        self.layout = Layout(self.t, self._skip_member)
        self.out: list[str] = []
        self.declared: set[str] = set()  # "struct foo" tags declared or defined so far
        self.done: set[int] = set()  # ids whose own declaration/definition is emitted
        self.in_progress: set[int] = set()
        self.body_ready: set[int] = set()  # anonymous records whose members' needs are met
        self.proto_ready: set[int] = set()
        self.inlined_enums: set[int] = set()  # anonymous enums already written inline
        self.parts: dict[int, tuple[str, str]] = {}
        self.in_params = 0  # > 0 while writing a prototype's parameter list
        self.proto_depth = 0  # > 0 while meeting the needs of a prototype's parameters
        self.records = 0  # struct/union definitions emitted
        self.met: set[int] = set()  # need() calls already satisfied: id << 2 | complete << 1 | in proto
        self._need_by_kind = {
            Kind.PTR: self._need_ptr, Kind.ARRAY: self._need_array, Kind.TYPEDEF: self._need_typedef,
            Kind.STRUCT: self._need_record, Kind.UNION: self._need_record, Kind.ENUM: self._need_enum,
            Kind.ENUM64: self._need_enum, Kind.FUNC_PROTO: self._need_proto, Kind.FWD: self._need_fwd,
            Kind.CONST: self._need_modifier, Kind.VOLATILE: self._need_modifier,
            Kind.RESTRICT: self._need_modifier, Kind.TYPE_TAG: self._need_modifier,
        }

    def release(self) -> None:
        """Drop the dump's state (caches, emitted text) and the reference cycles through bound
        methods, so that it is freed at once rather than by the cyclic garbage collector."""
        for state in (self.t, self.out, self.declared, self.done, self.in_progress, self.body_ready,
                      self.proto_ready, self.inlined_enums, self.parts, self.met, self._need_by_kind):
            state.clear()
        self.top = []
        self.layout = None  # type: ignore[assignment]
        self.names = None  # type: ignore[assignment]

    # --- the top level -------------------------------------------------------------------

    def run(self) -> str:
        types = self.t
        inlinable = self._enums_used_inline()
        top = {
            Kind.STRUCT: self._top_record, Kind.UNION: self._top_record, Kind.ENUM: self._top_enum,
            Kind.ENUM64: self._top_enum, Kind.TYPEDEF: self._top_typedef, Kind.FWD: self._top_fwd,
        }
        kinds = self.kinds
        for tid in self.top:
            handler = top.get(kinds[tid])
            if handler is not None and tid not in inlinable:
                handler(tid, True)
        # anonymous enums meant to be inlined by a type nothing emitted
        for tid in sorted(inlinable - self.inlined_enums):
            self._emit_enum(tid)
        return "".join(self.out)

    def _top_record(self, tid: int, complete: bool) -> None:
        if self.t[tid].name:
            self._define(tid)

    def _top_enum(self, tid: int, complete: bool) -> None:
        if tid not in self.done:
            self._emit_enum(tid)

    def _top_typedef(self, tid: int, complete: bool) -> None:
        if tid in self.names.ident and tid not in self.done:
            self._emit_typedef(tid)

    def _enums_used_inline(self) -> set[int]:
        """Anonymous enums that a member or a typedef names directly, and so will write inline.

        Only direct uses are looked for (cheap); an anonymous enum reached otherwise (through an
        array, say) is emitted on its own, and that use then stands in an integer of its size.
        """
        types = self.t
        anon = {tid for tid in self.top if types[tid].kind in _ENUM_KINDS and not types[tid].name}
        if not anon:
            return anon
        kinds = self.kinds
        typedefs = [types[tid] for tid in self.top if kinds[tid] == Kind.TYPEDEF]
        records = [types[tid].members for tid in self.top if kinds[tid] in _RECORD_KIND_NUMS]  # type: ignore[union-attr]
        found = anon.intersection(t.type_id for t in typedefs)  # type: ignore[union-attr]
        found.update(anon.intersection(map(_TYPE_ID, chain.from_iterable(records))))
        return found

    # --- what a use of a type needs emitted first ---------------------------------------

    def need(self, tid: int, complete: bool) -> None:
        """Emit what must precede a use of ``tid`` (by value when ``complete``)."""
        key = tid << 2 | (2 if complete else 0) | (1 if self.proto_depth else 0)
        if key in self.met:
            return
        handler = self._need_by_kind.get(self.kinds[tid])
        if handler is not None:
            handler(tid, complete)
        self.met.add(key)

    def _need_ptr(self, tid: int, complete: bool) -> None:
        self.need(self.t[tid].type_id, False)  # type: ignore[union-attr]

    def _need_array(self, tid: int, complete: bool) -> None:
        self.need(self.t[tid].elem_type_id, True)  # type: ignore[union-attr]

    def _need_modifier(self, tid: int, complete: bool) -> None:
        self.need(self.t[tid].type_id, complete)  # type: ignore[union-attr]

    def _need_typedef(self, tid: int, complete: bool) -> None:
        if tid not in self.done and tid in self.names.ident:
            self._emit_typedef(tid)
        if complete or tid not in self.names.ident:
            self.need(self.t[tid].type_id, complete)  # type: ignore[union-attr]

    def _need_record(self, tid: int, complete: bool) -> None:
        if not self.t[tid].name:
            if tid not in self.body_ready:
                self.body_ready.add(tid)
                for m in self.layout.plan(tid).members:
                    self.need(m[1], True)
        elif complete:
            self._define(tid)
        elif self.proto_depth:
            # a tag first named in a parameter list would be local to the prototype
            self._declare(tid)

    def _need_enum(self, tid: int, complete: bool) -> None:
        if self.t[tid].name and tid not in self.done:
            self._emit_enum(tid)

    def _need_proto(self, tid: int, complete: bool) -> None:
        if tid not in self.proto_ready:
            self.proto_ready.add(tid)
            t = self.t[tid]
            self.need(t.return_type_id, False)  # type: ignore[union-attr]
            self.proto_depth += 1
            try:
                for p in t.params:  # type: ignore[union-attr]
                    self.need(p.type_id, False)
            finally:
                self.proto_depth -= 1

    def _need_fwd(self, tid: int, complete: bool) -> None:
        if self.proto_depth:
            self._declare(tid)

    def _top_fwd(self, tid: int, complete: bool) -> None:
        self._declare(tid)

    # --- emitting declarations -----------------------------------------------------------

    def _declare(self, tid: int) -> None:
        t = self.t[tid]
        is_union = t.kind is Kind.UNION or (t.kind is Kind.FWD and t.is_union)  # type: ignore[union-attr]
        tag = f"{'union' if is_union else 'struct'} {self.names.tag[tid]}"
        if tag not in self.declared:
            self.declared.add(tag)
            self.out.append(f"{tag};\n\n")

    def _define(self, tid: int) -> None:
        if tid in self.done:
            return
        t = self.t[tid]
        if tid in self.in_progress:
            raise BTFError(
                f"{_RECORD_KEYWORD[t.kind]} {t.name} contains itself by value (type id {tid}); "
                "this BTF cannot be written as C"
            )
        self.in_progress.add(tid)
        self.records += 1
        plan = self.layout.plan(tid)
        met = self.met
        flag = 3 if self.proto_depth else 2
        for m in plan.members:
            mtid = m[1]
            if mtid << 2 | flag not in met:
                self.need(mtid, True)
        tag = f"{_RECORD_KEYWORD[t.kind]} {self.names.tag[tid]}"
        self.out.append(f"{tag} {self._record_body(tid, plan, 0)};\n\n")
        self.declared.add(tag)
        self.done.add(tid)
        self.in_progress.discard(tid)

    def _emit_typedef(self, tid: int) -> None:
        self.done.add(tid)
        target = self.t[tid].type_id  # type: ignore[union-attr]
        self.need(target, False)
        self.out.append(f"typedef {self.decl(target, self.names.ident[tid], 0)};\n\n")

    def _emit_enum(self, tid: int) -> None:
        self.done.add(tid)
        t = self.t[tid]
        if not t.values:  # type: ignore[union-attr]
            if t.name:  # a forward-declared enum (an anonymous empty one declares nothing)
                self.out.append(f"enum {self.names.tag[tid]};\n\n")
            return
        self.inlined_enums.add(tid)
        name = f"enum {self.names.tag[tid]} " if t.name else "enum "
        self.out.append(f"{name}{self._enum_body(tid, 0)};\n\n")

    # --- text ----------------------------------------------------------------------------

    def _skip_member(self, m: MemberRow) -> bool:
        """Unnamed members that are not anonymous records are padding: the layout redoes them."""
        if m[0]:
            return False
        t = self.t[m[1]]
        while t.kind in _MODIFIER_KINDS:
            t = self.t[t.type_id]  # type: ignore[union-attr]
        return t.kind not in _RECORD_KEYWORD or bool(t.name)

    def _record_body(self, tid: int, plan: RecordPlan, depth: int) -> str:
        """``{ members }`` plus the packed attribute, members indented at ``depth + 1``."""
        ind = "\t" * (depth + 1)
        lines = ["{\n"]
        add = lines.append
        parts = self.parts
        pads = plan.pads
        for i, (name, mtid, _, bitfield_size) in enumerate(plan.members):
            if pads and i in pads:
                for start, width in pads[i]:
                    add(f"{ind}{pad_type(start, width)}: {width};\n")
            cached = parts.get(mtid)
            if cached is not None and not bitfield_size:
                add(f"{ind}{cached[0]}{name}{cached[1]};\n")
                continue
            text = f"{cached[0]}{name}{cached[1]}" if cached is not None else self.decl(mtid, name, depth + 1)
            if bitfield_size:
                add(f"{ind}{text}: {bitfield_size};\n")
            else:
                add(f"{ind}{text};\n")
        if plan.tail:
            if self.t[tid].kind is Kind.UNION:
                inner = "".join(f"{ind}\t{pad_type(s, w)}: {w};\n" for s, w in plan.tail)
                add(f"{ind}struct {{\n{inner}{ind}}};\n")
            else:
                for start, width in plan.tail:
                    add(f"{ind}{pad_type(start, width)}: {width};\n")
        add("\t" * depth + ("} __attribute__((packed))" if plan.packed else "}"))
        return "".join(lines)

    def _enum_body(self, tid: int, depth: int) -> str:
        t = self.t[tid]
        ind = "\t" * (depth + 1)
        is64 = t.kind is Kind.ENUM64
        bits = 64 if is64 else 32
        mask = (1 << bits) - 1
        lines = ["{\n"]
        lo = hi = 0
        values = [v.value for v in t.values]  # type: ignore[union-attr]
        if not is64 and values:
            lo = min(values)
            hi = max(values)
            if (_INT32_MIN <= lo and hi < (1 << 31)) if t.signed else (0 <= lo and hi < (1 << 32)):  # type: ignore[union-attr]
                # the usual case: every value is already what C sees, written as a plain decimal
                lines.extend(map(_ENUMERATOR_LINE, repeat(ind), self.names.enumerators[tid], values))
                return self._enum_close(t, lines, min(lo, 0), max(hi, 0), depth)
            lo = hi = 0
        for name, v in zip(self.names.enumerators[tid], t.values):  # type: ignore[union-attr]
            value = v.value & mask
            if t.signed and value >> (bits - 1):  # type: ignore[union-attr]
                value -= 1 << bits
            lo = min(lo, value)
            hi = max(hi, value)
            lines.append(f"{ind}{name} = {_enum_literal(value, is64)},\n")
        return self._enum_close(t, lines, lo, hi, depth)

    @staticmethod
    def _enum_close(t: Type, lines: list[str], lo: int, hi: int, depth: int) -> str:
        """Close an enum body whose values span ``[lo, hi]`` (0 included), with the mode
        attribute when clang would give the enum another size than BTF's."""
        natural = 4 if (lo >= _INT32_MIN and hi < (1 << 31)) or (lo >= 0 and hi < (1 << 32)) else 8
        lines.append("\t" * depth + "}")
        if t.size != natural and t.size in _ENUM_MODE:  # type: ignore[union-attr]
            lines.append(f" __attribute__((mode({_ENUM_MODE[t.size]})))")  # type: ignore[union-attr]
        return "".join(lines)

    def decl(self, tid: int, name: str, depth: int) -> str:
        """The C declaration of ``name`` with type ``tid`` (``name`` may be empty)."""
        cached = self.parts.get(tid)
        if cached is None:
            left, right, cacheable = self._declarator(tid, depth)
            if cacheable:
                self.parts[tid] = (left, right)
        else:
            left, right = cached
        if name:
            return f"{left}{name}{right}"
        return f"{left.rstrip()}{right}"

    def _declarator(self, tid: int, depth: int) -> tuple[str, str, bool]:
        """The declaration of a placeholder name, split around it; False when it inlines an
        anonymous type."""
        types = self.t
        decl = _HOLE
        quals: list[str] = []
        for _ in range(_MAX_CHAIN):
            t = types[tid]
            kind = t.kind
            if kind is Kind.PTR:
                if quals:
                    decl = f"{' '.join(quals)} {decl}"
                    quals = []
                decl = f"*{decl}"
                tid = t.type_id  # type: ignore[union-attr]
            elif kind is Kind.ARRAY:
                if decl[0] == "*":
                    decl = f"({decl})"
                decl = f"{decl}[{t.nelems}]"  # type: ignore[union-attr]
                tid = t.elem_type_id  # type: ignore[union-attr]
            elif kind in _QUALIFIER:
                q = _QUALIFIER[kind]
                if q not in quals:
                    quals.append(q)
                tid = t.type_id  # type: ignore[union-attr]
            elif kind is Kind.TYPE_TAG:
                tid = t.type_id  # type: ignore[union-attr]
            elif kind is Kind.FUNC_PROTO:
                if decl[0] == "*":
                    decl = f"({decl})"
                decl = f"{decl}({self._params(t, depth)})"
                quals = []
                tid = t.return_type_id  # type: ignore[union-attr]
            elif kind is Kind.TYPEDEF and tid not in self.names.ident:  # a compiler built-in
                tid = t.type_id  # type: ignore[union-attr]
            else:
                base, cacheable = self._base(tid, t, depth)
                if quals:
                    base = f"{' '.join(quals)} {base}"
                left, _, right = decl.partition(_HOLE)
                return f"{base} {left}", right, cacheable
        raise BTFError(f"type id {tid} is part of a cycle of pointers/modifiers with no named type")

    def _base(self, tid: int, t: Type, depth: int) -> tuple[str, bool]:
        kind = t.kind
        if kind is Kind.TYPEDEF:
            return self.names.ident[tid], True
        if kind in _RECORD_KEYWORD:
            if t.name:
                return f"{_RECORD_KEYWORD[kind]} {self.names.tag[tid]}", True
            return f"{_RECORD_KEYWORD[kind]} {self._record_body(tid, self.layout.plan(tid), depth)}", False
        if kind is Kind.ENUM or kind is Kind.ENUM64:
            if t.name:
                return f"enum {self.names.tag[tid]}", True
            if tid in self.inlined_enums or not t.values or self.in_params:  # type: ignore[union-attr]
                # its constants are declared elsewhere (a second inline copy would redeclare
                # them; one in a prototype would be invisible): an integer of its size
                return _INT_FOR_SIZE.get((t.size, t.signed), "int"), True  # type: ignore[union-attr]
            self.inlined_enums.add(tid)
            return f"enum {self._enum_body(tid, depth)}", False
        if kind is Kind.FWD:
            return f"{'union' if t.is_union else 'struct'} {self.names.tag[tid]}", True  # type: ignore[union-attr]
        if kind is Kind.UNKNOWN:
            return "void", True
        if kind is Kind.INT or kind is Kind.FLOAT:
            return _c_scalar(t), True
        raise BTFError(f"type id {tid} ({kind.name}) cannot be used as a C type")

    def _params(self, proto: Type, depth: int) -> str:
        params = proto.params  # type: ignore[union-attr]
        if not params:
            return "void"
        out = []
        self.in_params += 1
        try:
            for p in params:
                out.append("..." if p.type_id == 0 else self.decl(p.type_id, "", depth))
        finally:
            self.in_params -= 1
        return ", ".join(out)


class _Record(NamedTuple):
    """A struct/union as the dumper reads it: like :class:`~pybpf.btf.types.Struct`, but its
    members are the plain rows of :meth:`pybpf.btf.BTF.record_rows` (no dataclass per member)."""

    kind: Kind
    name: str
    size: int
    members: tuple[MemberRow, ...]


class _LazyTypes(dict):  # type: ignore[type-arg]
    """id -> type, decoding a type the first time it is asked for (most FUNCs never are).

    Structs and unions come as :class:`_Record` rows read straight from the BTF records.
    """

    def __init__(self, btf: BTF) -> None:
        super().__init__()
        self._btf = btf
        self._kinds = btf.kinds()

    def __missing__(self, tid: int) -> Type | _Record:
        kind = self._kinds[tid] if 0 <= tid < len(self._kinds) else None
        if kind in _RECORD_KIND_NUMS:
            name, size, rows = self._btf.record_rows(tid)
            t: Type | _Record = _new_record(_Record, (_RECORD_KIND_NUMS[kind], name, size, tuple(rows)))
        else:
            t = self._btf[tid]
        self[tid] = t
        return t

    def prefill(self, ids: list[int]) -> None:
        """Decode ``ids`` now, in bulk (records as :class:`_Record` rows)."""
        kinds = self._kinds
        plain = [tid for tid in ids if kinds[tid] not in _RECORD_KIND_NUMS]
        self.update(zip(plain, self._btf.decode_many(plain)))
        records = [tid for tid in ids if kinds[tid] in _RECORD_KIND_NUMS]
        new = _new_record
        self.update(zip(records, [new(_Record, (_RECORD_KIND_NUMS[kinds[tid]], name, size, tuple(rows)))
                                  for tid, (name, size, rows) in zip(records, self._btf.record_rows_many(records))]))


_RECORD_KIND_NUMS = {int(Kind.STRUCT): Kind.STRUCT, int(Kind.UNION): Kind.UNION}
_TYPE_ID = itemgetter(1)  # of a member row
_ENUMERATOR_LINE = "{}{} = {},\n".format  # indent, name, value
_new_record = tuple.__new__  # _Record(...) without the Python-level NamedTuple.__new__
_ENUM_KINDS = (Kind.ENUM, Kind.ENUM64)
_TOP_KINDS = frozenset(int(k) for k in (Kind.STRUCT, Kind.UNION, Kind.ENUM, Kind.ENUM64, Kind.TYPEDEF, Kind.FWD))
#: bytes.translate table: kind number -> 1 for the kinds in _TOP_KINDS, else 0
_TOP_MASK = bytes(1 if k in _TOP_KINDS else 0 for k in range(256))


def _c_scalar(t: Type) -> str:
    """The C spelling of an INT/FLOAT: its BTF name when C has it, else one of its size
    (BTF from other languages names integers ``u8``, ``i64``...)."""
    name = t.name
    if name and _C_SCALAR_WORDS.issuperset(name.split()):
        return name
    size = t.size  # type: ignore[union-attr]
    if t.kind is Kind.FLOAT:
        return _FLOAT_FOR_SIZE.get(size, "double")
    if t.encoding & IntEncoding.BOOL:  # type: ignore[union-attr]
        return "_Bool"
    if size == 16:
        return "__int128" if t.signed else "unsigned __int128"  # type: ignore[union-attr]
    return _INT_FOR_SIZE.get((size, t.signed), "int")  # type: ignore[union-attr]


_C_SCALAR_WORDS = frozenset({"signed", "unsigned", "char", "short", "int", "long", "_Bool", "__int128",
                             "float", "double", "_Float16", "__fp16"})
_FLOAT_FOR_SIZE = {2: "_Float16", 4: "float", 8: "double", 16: "long double"}


def _enum_literal(value: int, is64: bool) -> str:
    if not is64:
        return str(value)
    if value == _INT64_MIN:
        return "(-9223372036854775807LL - 1)"
    return f"{value}LL" if value < 0 else f"{value}ULL"


_MODIFIER_KINDS = frozenset({Kind.TYPEDEF, Kind.CONST, Kind.VOLATILE, Kind.RESTRICT, Kind.TYPE_TAG})
