"""Probes for what programs, maps and BTF may contain: instruction set versions, loops, kfuncs,
global data, mmapable and batch maps, sleepable programs, and the BTF kinds the kernel accepts.
"""

from __future__ import annotations

import errno
import mmap
from typing import Any

from .. import _sys
from ..enums import MapFlags, MapType, ProgramFlags, ProgramType
from ..errors import SyscallError
from ._core import describe_error
from .hooks import Verdict
from .progs import btf_id_of, helper, load, program_type


def _loads(pt: ProgramType, text: str, what: str, **kwargs: Any) -> Verdict:
    base = program_type(pt)
    if not base.supported:
        return False, f"{pt.name.lower()} programs cannot be loaded: {base.reason}"
    try:
        load(pt, text, **kwargs).close()
    except SyscallError as exc:
        return False, describe_error(exc, f"loading {what}")
    return True, f"{what} loads"


# --- instruction set -------------------------------------------------------------------------

#: Named ISA level -> (a program using what that level added, what it shows).
ISA_PROGRAMS: dict[str, tuple[str, str]] = {
    "v2": ("r1 = 1\nif r1 < 2 goto +0\nr0 = 0\nexit", "a program with BPF_JLT (cpu v2)"),
    "v3": ("w1 = 1\nif w1 < 2 goto +0\nr0 = 0\nexit", "a program with a 32-bit jump (JMP32, cpu v3)"),
    "v4": (
        "r1 = 5\nr1 s/= 2\nr2 = (s8)r1\nr2 = bswap16 r2\ngotol +0\nr0 = 0\nexit",
        "a program with sdiv, movsx, bswap and gotol (cpu v4)",
    ),
}


def isa(level: str) -> Verdict:
    text, what = ISA_PROGRAMS[level]
    return _loads(ProgramType.SOCKET_FILTER, text, what)


def bounded_loops() -> Verdict:
    return _loads(ProgramType.SOCKET_FILTER, "r1 = 0\nloop: r1 += 1\nif r1 < 4 goto loop\nr0 = 0\nexit",
                  "a program with a bounded loop (a back-edge)")


def bpf_loop() -> Verdict:
    r = helper(ProgramType.SOCKET_FILTER, "bpf_loop")
    return r.supported, r.reason


def cookies() -> Verdict:
    r = helper(ProgramType.KPROBE, "bpf_get_attach_cookie")
    return r.supported, r.reason


#: kfuncs every program type may call since they became generic (6.2); a pair keeps RCU balanced.
KFUNC_PAIR = ("bpf_rcu_read_lock", "bpf_rcu_read_unlock")


def kfuncs() -> Verdict:
    lock, unlock = btf_id_of(KFUNC_PAIR[:1]), btf_id_of(KFUNC_PAIR[1:])
    if lock is None or unlock is None:
        return False, f"the kernel BTF has no {' / '.join(KFUNC_PAIR)}"
    return _loads(ProgramType.TRACEPOINT, f"call kfunc {lock[1]}\ncall kfunc {unlock[1]}\nr0 = 0\nexit",
                  f"a tracepoint program calling the kfuncs {' and '.join(KFUNC_PAIR)}")


def sleepable() -> Verdict:
    return _loads(
        ProgramType.KPROBE,
        "r1 = r10\nr1 += -8\nr2 = 8\nr3 = 0\ncall bpf_copy_from_user\nr0 = 0\nexit",
        "a sleepable (BPF_F_SLEEPABLE) uprobe program calling bpf_copy_from_user",
        flags=ProgramFlags.SLEEPABLE,
    )


def syscall_programs() -> Verdict:
    r = program_type(ProgramType.SYSCALL)
    return r.supported, r.reason


# --- maps --------------------------------------------------------------------------------------


def global_data() -> Verdict:
    """A program storing through a direct map value pointer (BPF_PSEUDO_MAP_VALUE, 5.2)."""
    try:
        m = _sys.map_create(MapType.ARRAY, 4, 8, 1, name="pybpf_probe")
    except SyscallError as exc:
        return False, describe_error(exc, "creating an array map")
    try:
        return _loads(ProgramType.SOCKET_FILTER,
                      f"ld_pseudo r1, 2, {m.fileno()}, 0\nr2 = 1\n*(u32 *)(r1 + 0) = r2\nr0 = 0\nexit",
                      "a program writing a global variable (direct map value access)")
    finally:
        m.close()


def mmapable() -> Verdict:
    """BPF_F_MMAPABLE arrays (5.5): create one and map it into this process."""
    try:
        m = _sys.map_create(MapType.ARRAY, 4, mmap.PAGESIZE, 1, flags=MapFlags.MMAPABLE, name="pybpf_probe")
    except SyscallError as exc:
        return False, describe_error(exc, "creating an array map with BPF_F_MMAPABLE")
    try:
        view = mmap.mmap(m.fileno(), mmap.PAGESIZE)
        view.close()
    except OSError as exc:
        return False, f"mmap of a BPF_F_MMAPABLE array failed: {exc}"
    finally:
        m.close()
    return True, "an array map with BPF_F_MMAPABLE was created and mmapped"


def batch_ops() -> Verdict:
    """BPF_MAP_LOOKUP_BATCH (5.6): ENOENT on an empty hash map means the command exists."""
    m = _sys.map_create(MapType.HASH, 4, 4, 1, name="pybpf_probe")
    try:
        _sys.map_lookup_batch(m, None, 4, 4, 1)
    except SyscallError as exc:
        if exc.errno == errno.ENOENT:
            return True, "BPF_MAP_LOOKUP_BATCH answered ENOENT (end of map) on an empty hash map"
        return False, describe_error(exc, "BPF_MAP_LOOKUP_BATCH")
    finally:
        m.close()
    return True, "BPF_MAP_LOOKUP_BATCH works"


# --- BTF -------------------------------------------------------------------------------------


def _btf_types(kind: str) -> list[object]:
    from ..btf import (
        Datasec, DeclTag, Enum64, EnumValue, Float, Func, FuncLinkage, FuncProto, Int, IntEncoding, Param, Pointer,
        Struct, TypeTag, Var, VarLinkage, VarSecInfo,
    )
    from ..btf.types import Member

    i32 = Int("int", 4, IntEncoding.SIGNED, bits=32)  # type id 1 in every blob
    blobs: dict[str, list[object]] = {
        "btf": [i32],
        "func": [i32, FuncProto(1, (Param("a", 1),)), Func("f", 2)],
        "global_func": [i32, FuncProto(1, (Param("a", 1),)), Func("f", 2, FuncLinkage.GLOBAL)],
        "datasec": [i32, Var("v", 1, VarLinkage.STATIC), Datasec(".data", 4, (VarSecInfo(2, 0, 4),))],
        "float": [i32, Float("float", 4)],
        "decl_tag": [i32, Struct("s", 4, (Member("m", 1, 0),)), DeclTag("tag", 2, -1)],
        "type_tag": [i32, TypeTag("tag", 1), Pointer(2)],
        "enum64": [i32, Enum64("e", 8, (EnumValue("A", 1 << 40),))],
    }
    return blobs[kind]


def btf_kind(kind: str) -> Verdict:
    """BPF_BTF_LOAD of a minimal blob using ``kind`` (``btf`` alone: BTF loading at all)."""
    from ..btf import BTF

    blob = BTF.from_types(_btf_types(kind)).to_bytes()  # type: ignore[arg-type]
    what = "BPF_BTF_LOAD of an int" if kind == "btf" else f"BPF_BTF_LOAD of a blob with a {kind.upper()} type"
    try:
        _sys.btf_load(blob).fd.close()
    except SyscallError as exc:
        log_text = getattr(exc, "log", "")
        tail = log_text.strip().splitlines()[-1] if log_text.strip() else ""
        return False, describe_error(exc, what) + (f"; kernel BTF log: {tail}" if tail else "")
    return True, f"{what} succeeds"


__all__ = [
    "ISA_PROGRAMS", "batch_ops", "bounded_loops", "bpf_loop", "btf_kind", "cookies", "global_data", "isa",
    "kfuncs", "mmapable", "sleepable", "syscall_programs",
]
