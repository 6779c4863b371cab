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

How types are read. The dump walks the raw 32-bit words of the type records
(:class:`~pybpf.btf.c_dump_layout.TypeWords`) instead of decoding dataclasses: it touches
~30k types once or twice each, and building objects for them was most of its cost. Split
BTF is dumped through :meth:`~pybpf.btf.BTF.flattened`, which keeps every id.
"""

from __future__ import annotations

import gc
import logging
import sys
from contextlib import contextmanager
from itertools import accumulate, chain, compress
from operator import itemgetter
from typing import TYPE_CHECKING, Callable, Iterator, Sequence

from ..errors import BTFError
from ._decode import MemberRow
from .c_dump_layout import Layout, RecordPlan, TypeWords, pad_type
from .c_dump_names import NameEntry, Names, c_identifier
from .types import IntEncoding, Kind

if TYPE_CHECKING:
    from .container import BTF

log = logging.getLogger("pybpf.btf.c_dump")

__all__ = ["dump_c", "FORMAT_VERSION"]

#: Bumped whenever the text dump_c produces changes, in this file or in c_dump_layout /
#: c_dump_names (pybpf.cc caches the generated vmlinux.h by a hash of this file).
FORMAT_VERSION = 3

_PRESERVE_PUSH = (
    "#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n"
    "#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)\n"
    "#endif\n\n"
)
_PRESERVE_POP = "#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute pop\n#endif\n\n"
#: around the kfunc prototypes; __ksym and __weak are spelled as in bpf/bpf_helpers.h, which
#: defines them again without a guard (an identical redefinition is allowed)
_KFUNCS_START = (
    "#ifndef BPF_NO_KFUNC_PROTOTYPES\n"
    "#ifndef __ksym\n#define __ksym __attribute__((section(\".ksyms\")))\n#endif\n"
    "#ifndef __weak\n#define __weak __attribute__((weak))\n#endif\n"
    "#ifndef __bpf_fastcall\n#if __has_attribute(bpf_fastcall)\n"
    "#define __bpf_fastcall __attribute__((bpf_fastcall))\n#else\n#define __bpf_fastcall\n#endif\n#endif\n\n"
)
_KFUNCS_END = "\n#endif /* BPF_NO_KFUNC_PROTOTYPES */\n\n"

#: ``__attribute__((mode(...)))`` that gives an enum each size
_ENUM_MODE = {1: "QI", 2: "HI", 4: "SI", 8: "DI"}
#: integer types standing in for an anonymous enum where it cannot be written inline
_INT_FOR_SIZE = {
    (1, False): "unsigned char", (2, False): "unsigned short", (4, False): "unsigned int",
    (8, False): "unsigned long long", (1, True): "signed char", (2, True): "short",
    (4, True): "int", (8, True): "long long",
}
_QUALIFIER = {int(Kind.CONST): "const", int(Kind.VOLATILE): "volatile", int(Kind.RESTRICT): "restrict"}
_RECORD_KEYWORD = {int(Kind.STRUCT): "struct", int(Kind.UNION): "union"}
_HOLE = "\x00"  # stands for the declared name in a cached declarator
_MAX_CHAIN = 4096  # pointer/array/modifier steps in one declarator before it must be a cycle
_INT32_MIN = -(1 << 31)
_INT64_MIN = -(1 << 63)


def dump_c(btf: BTF, *, header_guard: str | None = "__VMLINUX_H__") -> str:
    """Render every type of ``btf`` as a C header that compiles as ``vmlinux.h``.

    ``header_guard`` names the ``#ifndef`` include guard (None or "" for none). Structs and
    unions are wrapped in ``#pragma clang attribute push (preserve_access_index)`` unless
    the includer defines ``BPF_NO_PRESERVE_ACCESS_INDEX``, so field accesses on them are
    CO-RE relocatable. Functions the kernel marks as kfuncs (a ``bpf_kfunc`` declaration tag)
    get ``extern ... __weak __ksym;`` prototypes after the types, unless the includer defines
    ``BPF_NO_KFUNC_PROTOTYPES`` (for programs that declare kfuncs themselves). Raises
    :class:`~pybpf.errors.BTFError` for a type graph C cannot express (a struct containing
    itself by value).
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
            kfuncs = dumper.kfuncs
            dumper.release()
            del dumper
    head = f"#ifndef {header_guard}\n#define {header_guard}\n\n" if header_guard else ""
    tail = f"#endif /* {header_guard} */\n" if header_guard else ""
    if records:  # clang warns about an attribute region that applies to nothing
        body = f"{_PRESERVE_PUSH}{body}{_PRESERVE_POP}"
    if kfuncs:
        body = f"{body}{_KFUNCS_START}{''.join(kfuncs)}{_KFUNCS_END}"
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
        self.types = types = TypeWords(btf.flattened())
        self.words = types.words
        self.offsets = types.offsets
        #: raw kind number of every id (dispatch tables below are indexed by it too)
        self.kinds = kinds = types.kinds
        self.n = types.n
        #: ids with a declaration of their own, in id order
        self.top = list(compress(range(self.n), kinds.translate(_TOP_MASK)))
        self.names = Names(self._name_entries())
        self.tag = self.names.tag  # named records, enums and fwds -> C tag
        self.ident = self.names.ident  # typedefs that are emitted -> C name
        types.prefetch_members([tid for tid in self.top if kinds[tid] in _RECORD_KIND_NUMS])
        self.layout = Layout(types, self._emitted_members)
        self.out: list[str] = []
        self.declared: set[str] = set()  # "struct foo" tags declared or defined so far
        self.done: set[int] = set()  # ids whose own declaration/definition is emitted
        self.in_progress: set[int] = set()
        self.body_ready: set[int] = set()  # anonymous records whose members' needs are met
        self.proto_ready: set[int] = set()
        self.inlined_enums: set[int] = set()  # anonymous enums already written inline
        #: cached declarators split around the declared name, by type id
        self.parts: list[tuple[str, str] | None] = [None] * self.n
        self.in_params = 0  # > 0 while writing a prototype's parameter list
        self.proto_depth = 0  # > 0 while meeting the needs of a prototype's parameters
        self.records = 0  # struct/union definitions emitted
        self.kfuncs: list[str] = []  # extern prototypes of kfuncs (see _kfunc_prototypes)
        #: need() calls already satisfied: one bit per (complete, inside a prototype), by id
        self.met = bytearray(self.n)
        need_by_kind: dict[Kind, Callable[[int, bool], None]] = {
            Kind.PTR: self._need_ptr, Kind.ARRAY: self._need_array, Kind.TYPEDEF: self._need_typedef,
            Kind.STRUCT: self._need_record, Kind.UNION: self._need_record, Kind.ENUM: self._need_enum,
            Kind.ENUM64: self._need_enum, Kind.FUNC_PROTO: self._need_proto, Kind.FWD: self._need_fwd,
            Kind.CONST: self._need_modifier, Kind.VOLATILE: self._need_modifier,
            Kind.RESTRICT: self._need_modifier, Kind.TYPE_TAG: self._need_modifier,
        }
        self._need_by_kind = [need_by_kind.get(Kind(k)) if k in _KIND_NUMS else None for k in range(256)]

    def release(self) -> None:
        """Drop the dump's state (caches, emitted text) and the reference cycles through bound
        methods, so that it is freed at once rather than by the cyclic garbage collector."""
        for state in (self.out, self.declared, self.done, self.in_progress, self.body_ready,
                      self.proto_ready, self.inlined_enums, self.parts, self._need_by_kind):
            state.clear()
        self.top = []
        del self.layout, self.names, self.tag, self.ident

    def _name_entries(self) -> Iterator[NameEntry]:
        """What :class:`Names` needs of the top-level ids, read from the raw records (strings
        looked up in two batches: the type names, then every enumerator's)."""
        w = self.words
        offsets = self.offsets
        kinds = self.kinds
        top = self.top
        names = self.types.names_at([w[offsets[tid]] for tid in top])
        enums = [tid for tid in top if kinds[tid] in _ENUM_KIND_NUMS]
        name_words = []
        for tid in enums:
            off = offsets[tid]
            stride = 3 if kinds[tid] == _ENUM64 else 2
            name_words.append(w[off + 3:off + 3 + stride * (w[off + 1] & 0xFFFF):stride])
        flat = self.types.names_at(chain.from_iterable(name_words))
        ends = list(accumulate(map(len, name_words)))
        enumerators = dict(zip(enums, [flat[a:b] for a, b in zip(chain((0,), ends), ends)]))
        for tid, name in zip(top, names):
            kind = kinds[tid]
            if kind in _ENUM_KIND_NUMS:
                yield tid, kind, name, enumerators[tid]
            elif kind == _FWD:
                yield tid, kind, name, bool(w[offsets[tid] + 1] >> 31)
            else:
                yield tid, kind, name, None

    # --- the top level -------------------------------------------------------------------

    def run(self) -> str:
        inlinable = self._enums_used_inline()
        top = {
            Kind.STRUCT: self._top_record, Kind.UNION: self._top_record, Kind.ENUM: self._top_enum,
            Kind.ENUM64: self._top_enum, Kind.TYPEDEF: self._top_typedef, Kind.FWD: self._top_fwd,
        }
        handlers = [top.get(Kind(k)) if k in _KIND_NUMS else None for k in range(256)]
        kinds = self.kinds
        for tid in self.top:
            handler = handlers[kinds[tid]]
            if handler is not None and tid not in inlinable:
                handler(tid)
        # anonymous enums meant to be inlined by a type nothing emitted
        for tid in sorted(inlinable - self.inlined_enums):
            self._emit_enum(tid)
        self.kfuncs = self._kfunc_prototypes()  # what their types need goes to out first
        return "".join(self.out)

    def _top_record(self, tid: int) -> None:
        if tid in self.tag:
            self._define(tid)

    def _top_enum(self, tid: int) -> None:
        if tid not in self.done:
            self._emit_enum(tid)

    def _top_typedef(self, tid: int) -> None:
        if tid in self.ident and tid not in self.done:
            self._emit_typedef(tid)

    def _top_fwd(self, tid: int) -> None:
        self._declare(tid)

    def _enums_used_inline(self) -> set[int]:
        """Anonymous enums that a member or a typedef names directly, and so will write inline.

        Only direct uses are looked for (cheap); an anonymous enum reached otherwise (through an
        array, say) is emitted on its own, and that use then stands in an integer of its size.
        """
        kinds = self.kinds
        tag = self.tag
        anon = {tid for tid in self.top if kinds[tid] in _ENUM_KIND_NUMS and tid not in tag}
        if not anon:
            return anon
        w = self.words
        offsets = self.offsets
        found = anon.intersection([w[offsets[tid] + 2] for tid in self.top if kinds[tid] == _TYPEDEF])
        member_types = [w[off + 4:off + 3 + 3 * (w[off + 1] & 0xFFFF):3]
                        for off in [offsets[tid] for tid in self.top if kinds[tid] in _RECORD_KIND_NUMS]]
        found.update(anon.intersection(chain.from_iterable(member_types)))
        return found

    # --- kfuncs --------------------------------------------------------------------------

    def _kfunc_prototypes(self) -> list[str]:
        """``extern`` declarations of the kernel functions BPF programs may call: the FUNCs
        that a ``bpf_kfunc`` declaration tag marks, in tag order; ``bpf_fastcall`` ones also get
        ``__bpf_fastcall``. Weak, so that a program loads on kernels without some of them."""
        kfuncs: dict[int, None] = {}  # FUNC ids in tag order, once each
        fastcall: set[int] = set()
        for tag, func in self._func_decl_tags():
            if tag == _KFUNC_TAG:
                kfuncs[func] = None
            elif tag == _FASTCALL_TAG:
                fastcall.add(func)
        if not kfuncs:
            return []
        taken = set(self.ident.values())  # typedef names: a function or parameter must not hide one
        seen: set[str] = set()
        lines = []
        for func in kfuncs:
            name = c_identifier(self.types.name(func))
            proto = self.types.ref(func)
            if self.kinds[proto] != _FUNC_PROTO:
                raise BTFError(f"FUNC {name} (type id {func}) has type id {proto}, which is not a FUNC_PROTO")
            if name in taken or name in seen:
                log.debug("kfunc %s: its name is taken in the dump, no prototype", name)
                continue
            seen.add(name)
            self.need(proto, False)
            text = self.decl(self.types.ref(proto), f"{name}({self._named_params(proto, taken)})", 0)
            lines.append(f"extern {text} __weak __ksym{' __bpf_fastcall' if func in fastcall else ''};\n")
        return lines

    def _func_decl_tags(self) -> Iterator[tuple[str, int]]:
        """``(tag, FUNC id)`` of every declaration tag on a whole function (not a parameter)."""
        kinds = self.kinds
        w = self.words
        offsets = self.offsets
        marker = bytes([_DECL_TAG])
        tid = kinds.find(marker)
        while tid >= 0:
            target = self.types.ref(tid)
            if w[offsets[tid] + 3] == _WHOLE_DECL and kinds[target] == _FUNC:
                yield self.types.name(tid), target
            tid = kinds.find(marker, tid + 1)

    def _named_params(self, proto: int, taken: set[str]) -> str:
        """A prototype's parameter list with the parameter names BTF records (a name that
        would hide a typedef is left out)."""
        types = self._param_types(proto)
        if not types:
            return "void"
        w = self.words
        off = self.offsets[proto]
        names = self.types.names_at(w[off + 3:off + 3 + 2 * len(types):2])
        out = []
        self.in_params += 1
        try:
            for name, param in zip(names, types):
                if param == 0:
                    out.append("...")
                    continue
                name = c_identifier(name) if name else ""
                out.append(self.decl(param, "" if name in taken else name, 0))
        finally:
            self.in_params -= 1
        return ", ".join(out)

    # --- what a use of a type needs emitted first ---------------------------------------

    def need(self, tid: int, complete: bool) -> None:
        """Emit what must precede a use of ``tid`` (by value when ``complete``)."""
        bit = (2 if complete else 1) << (2 if self.proto_depth else 0)
        met = self.met
        if met[tid] & bit:
            return
        handler = self._need_by_kind[self.kinds[tid]]
        if handler is not None:
            handler(tid, complete)
        met[tid] |= bit

    def _need_ptr(self, tid: int, complete: bool) -> None:
        target = self.words[self.offsets[tid] + 2]
        self.need(target if target < self.n else self.types.ref(tid), False)  # ref() raises the error

    def _need_array(self, tid: int, complete: bool) -> None:
        self.need(self.types.ref(tid, _ARRAY_ELEM), True)

    def _need_modifier(self, tid: int, complete: bool) -> None:
        self.need(self.types.ref(tid), complete)

    def _need_typedef(self, tid: int, complete: bool) -> None:
        ident = self.ident
        if tid not in self.done and tid in ident:
            self._emit_typedef(tid)
        if complete or tid not in ident:
            self.need(self.types.ref(tid), complete)

    def _need_record(self, tid: int, complete: bool) -> None:
        if tid not in self.tag:  # anonymous: written inline, so its members' needs are the user's
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
        if tid in self.tag and tid not in self.done:
            self._emit_enum(tid)

    def _need_proto(self, tid: int, complete: bool) -> None:
        if tid not in self.proto_ready:
            self.proto_ready.add(tid)
            self.need(self.types.ref(tid), False)
            self.proto_depth += 1
            try:
                for param in self._param_types(tid):
                    self.need(param, False)
            finally:
                self.proto_depth -= 1

    def _need_fwd(self, tid: int, complete: bool) -> None:
        if self.proto_depth:
            self._declare(tid)

    def _param_types(self, tid: int) -> Sequence[int]:
        """The parameter type ids of FUNC_PROTO ``tid`` (0 for ``...``), checked to be in range."""
        w = self.words
        off = self.offsets[tid]
        params = w[off + 4:off + 3 + 2 * (w[off + 1] & 0xFFFF):2]
        if params and max(params) >= self.n:
            raise BTFError(f"FUNC_PROTO type id {tid} has a parameter of type id {max(params)}, out of "
                           f"range (this BTF has ids 0..{self.n - 1})")
        return params

    # --- emitting declarations -----------------------------------------------------------

    def _declare(self, tid: int) -> None:
        kind = self.kinds[tid]
        is_union = kind == _UNION or (kind == _FWD and self.types.kind_flag(tid))
        tag = f"{'union' if is_union else 'struct'} {self.tag[tid]}"
        if tag not in self.declared:
            self.declared.add(tag)
            self.out.append(f"{tag};\n\n")

    def _define(self, tid: int) -> None:
        if tid in self.done:
            return
        keyword = _RECORD_KEYWORD[self.kinds[tid]]
        if tid in self.in_progress:
            raise BTFError(
                f"{keyword} {self.types.name(tid)} contains itself by value (type id {tid}); "
                "this BTF cannot be written as C"
            )
        self.in_progress.add(tid)
        self.records += 1
        plan = self.layout.plan(tid)
        met = self.met
        bit = 8 if self.proto_depth else 2  # need(..., complete=True), inside a prototype or not
        for m in plan.members:
            mtid = m[1]
            if not met[mtid] & bit:
                self.need(mtid, True)
        tag = f"{keyword} {self.tag[tid]}"
        self.out.append(f"{tag} {self._record_body(tid, plan, 0)};\n\n")
        self.declared.add(tag)
        self.done.add(tid)
        self.in_progress.discard(tid)

    def _emit_typedef(self, tid: int) -> None:
        self.done.add(tid)
        target = self.types.ref(tid)
        self.need(target, False)
        self.out.append(f"typedef {self.decl(target, self.ident[tid], 0)};\n\n")

    def _emit_enum(self, tid: int) -> None:
        self.done.add(tid)
        if not self.types.vlen(tid):
            if tid in self.tag:  # a forward-declared enum (an anonymous empty one declares nothing)
                self.out.append(f"enum {self.tag[tid]};\n\n")
            return
        self.inlined_enums.add(tid)
        name = f"enum {self.tag[tid]} " if tid in self.tag else "enum "
        self.out.append(f"{name}{self._enum_body(tid, 0)};\n\n")

    # --- text ----------------------------------------------------------------------------

    def _emitted_members(self, tid: int) -> list[MemberRow]:
        """The members of record ``tid`` the dump writes: unnamed members that are not anonymous
        records are padding, which the layout redoes."""
        rows = self.types.members(tid)
        if all(map(_NAME, rows)):
            return rows
        return [m for m in rows if m[0] or not self._is_padding(m[1])]

    def _is_padding(self, tid: int) -> bool:
        """Whether an unnamed member of type ``tid`` is padding (not an anonymous record)."""
        kinds = self.kinds
        for _ in range(_MAX_CHAIN):
            if kinds[tid] not in _SEE_THROUGH_KIND_NUMS:
                return kinds[tid] not in _RECORD_KIND_NUMS or tid in self.tag
            tid = self.types.ref(tid)
        raise BTFError(f"type id {tid} is part of a cycle of typedefs/modifiers")

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
            cached = parts[mtid]
            if cached is not None and not bitfield_size:
                add(f"{ind}{cached[0]}{name}{cached[1]};\n")
                continue
            text = f"{cached[0]}{name}{cached[1]}" if cached is not None else self.decl(mtid, name, depth + 1)
            if bitfield_size:
                add(f"{ind}{text}: {bitfield_size};\n")
            else:
                add(f"{ind}{text};\n")
        if plan.tail:
            if self.kinds[tid] == _UNION:
                inner = "".join(f"{ind}\t{pad_type(s, w)}: {w};\n" for s, w in plan.tail)
                add(f"{ind}struct {{\n{inner}{ind}}};\n")
            else:
                for start, width in plan.tail:
                    add(f"{ind}{pad_type(start, width)}: {width};\n")
        add("\t" * depth + ("} __attribute__((packed))" if plan.packed else "}"))
        return "".join(lines)

    def _enum_body(self, tid: int, depth: int) -> str:
        w = self.words
        off = self.offsets[tid]
        info = w[off + 1]
        vlen = info & 0xFFFF
        signed = info >> 31
        size = w[off + 2]
        ind = "\t" * (depth + 1)
        lines = ["{\n"]
        names = self.names.enumerators[tid]
        if self.kinds[tid] == _ENUM:
            # every 32-bit value is written as the plain decimal C sees (so the enum is 4 bytes)
            values: Sequence[int] = w[off + 4:off + 3 + 2 * vlen:2]
            if signed and max(values) >> 31:
                values = [v - (1 << 32) if v >> 31 else v for v in values]
            lines.extend([f"{ind}{name} = {value},\n" for name, value in zip(names, values)])
            return self._enum_close(size, lines, 0, 0, depth)
        lo = hi = 0
        low_words = w[off + 4:off + 3 + 3 * vlen:3]
        high_words = w[off + 5:off + 3 + 3 * vlen:3]
        for name, low, high in zip(names, low_words, high_words):
            value = low | high << 32
            if signed and value >> 63:
                value -= 1 << 64
            lo = min(lo, value)
            hi = max(hi, value)
            lines.append(f"{ind}{name} = {_enum_literal(value, True)},\n")
        return self._enum_close(size, lines, lo, hi, depth)

    @staticmethod
    def _enum_close(size: int, lines: list[str], lo: int, hi: int, depth: int) -> str:
        """Close an enum body whose values span ``[lo, hi]`` (0 included), with the mode
        attribute when clang would give the enum another size than BTF's."""
        natural = 4 if (lo >= _INT32_MIN and hi < (1 << 31)) or (lo >= 0 and hi < (1 << 32)) else 8
        lines.append("\t" * depth + "}")
        if size != natural and size in _ENUM_MODE:
            lines.append(f" __attribute__((mode({_ENUM_MODE[size]})))")
        return "".join(lines)

    def decl(self, tid: int, name: str, depth: int) -> str:
        """The C declaration of ``name`` with type ``tid`` (``name`` may be empty)."""
        cached = self.parts[tid]
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
        kinds = self.kinds
        w = self.words
        offsets = self.offsets
        n = self.n
        ref = self.types.ref
        decl = _HOLE
        quals: list[str] = []
        for _ in range(_MAX_CHAIN):
            kind = kinds[tid]
            if kind == _PTR:
                if quals:
                    decl = f"{' '.join(quals)} {decl}"
                    quals = []
                decl = f"*{decl}"
                target = w[offsets[tid] + 2]
                tid = target if target < n else ref(tid)  # ref() raises the error
            elif kind == _ARRAY:
                if decl[0] == "*":
                    decl = f"({decl})"
                decl = f"{decl}[{self.words[self.offsets[tid] + _ARRAY_NELEMS]}]"
                tid = ref(tid, _ARRAY_ELEM)
            elif kind in _QUALIFIER:
                q = _QUALIFIER[kind]
                if q not in quals:
                    quals.append(q)
                tid = ref(tid)
            elif kind == _TYPE_TAG:
                tid = ref(tid)
            elif kind == _FUNC_PROTO:
                if decl[0] == "*":
                    decl = f"({decl})"
                decl = f"{decl}({self._params(tid, depth)})"
                quals = []
                tid = ref(tid)
            elif kind == _TYPEDEF and tid not in self.ident:  # a compiler built-in
                tid = ref(tid)
            else:
                base, cacheable = self._base(tid, kind, depth)
                if quals:
                    base = f"{' '.join(quals)} {base}"
                left, _, right = decl.partition(_HOLE)
                return f"{base} {left}", right, cacheable
        raise BTFError(f"type id {tid} is part of a cycle of pointers/modifiers with no named type")

    def _base(self, tid: int, kind: int, depth: int) -> tuple[str, bool]:
        if kind == _TYPEDEF:
            return self.ident[tid], True
        if kind in _RECORD_KEYWORD:
            if tid in self.tag:
                return f"{_RECORD_KEYWORD[kind]} {self.tag[tid]}", True
            return f"{_RECORD_KEYWORD[kind]} {self._record_body(tid, self.layout.plan(tid), depth)}", False
        if kind in _ENUM_KIND_NUMS:
            if tid in self.tag:
                return f"enum {self.tag[tid]}", True
            if tid in self.inlined_enums or not self.types.vlen(tid) or self.in_params:
                # its constants are declared elsewhere (a second inline copy would redeclare
                # them; one in a prototype would be invisible): an integer of its size
                return _INT_FOR_SIZE.get((self.types.size(tid), self.types.kind_flag(tid)), "int"), True
            self.inlined_enums.add(tid)
            return f"enum {self._enum_body(tid, depth)}", False
        if kind == _FWD:
            return f"{'union' if self.types.kind_flag(tid) else 'struct'} {self.tag[tid]}", True
        if kind == _VOID:
            return "void", True
        if kind == _INT:
            encoding = self.words[self.offsets[tid] + 3] >> 24
            return _c_scalar(self.types.name(tid), self.types.size(tid), encoding & _SIGNED, encoding & _BOOL), True
        if kind == _FLOAT:
            return _c_float(self.types.name(tid), self.types.size(tid)), True
        raise BTFError(f"type id {tid} ({Kind(kind).name}) cannot be used as a C type")

    def _params(self, proto: int, depth: int) -> str:
        params = self._param_types(proto)
        if not params:
            return "void"
        out = []
        self.in_params += 1
        try:
            for param in params:
                out.append("..." if param == 0 else self.decl(param, "", depth))
        finally:
            self.in_params -= 1
        return ", ".join(out)


_KIND_NUMS = frozenset(int(k) for k in Kind)
_VOID = int(Kind.UNKNOWN)
_INT = int(Kind.INT)
_PTR = int(Kind.PTR)
_ARRAY = int(Kind.ARRAY)
_UNION = int(Kind.UNION)
_ENUM = int(Kind.ENUM)
_ENUM64 = int(Kind.ENUM64)
_FWD = int(Kind.FWD)
_TYPEDEF = int(Kind.TYPEDEF)
_FUNC_PROTO = int(Kind.FUNC_PROTO)
_FLOAT = int(Kind.FLOAT)
_TYPE_TAG = int(Kind.TYPE_TAG)
_FUNC = int(Kind.FUNC)
_DECL_TAG = int(Kind.DECL_TAG)
_WHOLE_DECL = 0xFFFFFFFF  # component_idx -1 of a DECL_TAG: it tags the whole declaration
#: declaration tags (BTF_DECL_TAG) the kernel puts on functions BPF programs may call
_KFUNC_TAG = "bpf_kfunc"
_FASTCALL_TAG = "bpf_fastcall"
_ARRAY_ELEM = 3  # word of an ARRAY record holding the element type id
_ARRAY_NELEMS = 5  # ... and the number of elements
_SIGNED = int(IntEncoding.SIGNED)
_BOOL = int(IntEncoding.BOOL)
_RECORD_KIND_NUMS = frozenset({int(Kind.STRUCT), int(Kind.UNION)})
_ENUM_KIND_NUMS = frozenset({_ENUM, _ENUM64})
_SEE_THROUGH_KIND_NUMS = frozenset(int(k) for k in (Kind.TYPEDEF, Kind.CONST, Kind.VOLATILE, Kind.RESTRICT,
                                                    Kind.TYPE_TAG))
_NAME = itemgetter(0)  # of a member row
_TOP_KINDS = frozenset(int(k) for k in (Kind.STRUCT, Kind.UNION, Kind.ENUM, Kind.ENUM64, Kind.TYPEDEF, Kind.FWD))
#: bytes.translate table: kind number -> 1 for the kinds in _TOP_KINDS, else 0
_TOP_MASK = bytes(1 if k in _TOP_KINDS else 0 for k in range(256))


def _c_scalar(name: str, size: int, signed: int, boolean: int) -> str:
    """The C spelling of an INT: its BTF name when C has it, else one of its size (BTF from
    other languages names integers ``u8``, ``i64``...)."""
    if name and _C_SCALAR_WORDS.issuperset(name.split()):
        return name
    if boolean:
        return "_Bool"
    if size == 16:
        return "__int128" if signed else "unsigned __int128"
    return _INT_FOR_SIZE.get((size, bool(signed)), "int")


def _c_float(name: str, size: int) -> str:
    """The C spelling of a FLOAT: its BTF name when C has it, else the type of its size."""
    if name and _C_SCALAR_WORDS.issuperset(name.split()):
        return name
    return _FLOAT_FOR_SIZE.get(size, "double")


_C_SCALAR_WORDS = frozenset({"signed", "unsigned", "char", "short", "int", "long", "_Bool", "__int128",
                             "float", "double", "_Float16", "__fp16"})
_FLOAT_FOR_SIZE = {2: "_Float16", 4: "float", 8: "double", 16: "long double"}


def _enum_literal(value: int, is64: bool) -> str:
    if not is64:
        return str(value)
    if value == _INT64_MIN:
        return "(-9223372036854775807LL - 1)"
    return f"{value}LL" if value < 0 else f"{value}ULL"

