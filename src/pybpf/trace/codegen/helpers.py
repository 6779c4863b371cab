"""BPF helper calls as LLVM IR: a call through a constant function pointer whose address is the
helper id (how clang lowers ``bpf_xxx()`` calls for the bpf target)."""

from __future__ import annotations

import enum

from llvmlite import ir

I8 = ir.IntType(8)
I32 = ir.IntType(32)
I64 = ir.IntType(64)
PTR = I8.as_pointer()
VOID = ir.VoidType()


class Helper(enum.IntEnum):
    """The BPF helpers the generated code calls (ids from the kernel UAPI)."""

    MAP_LOOKUP_ELEM = 1
    MAP_UPDATE_ELEM = 2
    MAP_DELETE_ELEM = 3
    KTIME_GET_NS = 5
    GET_PRANDOM_U32 = 7
    GET_SMP_PROCESSOR_ID = 8
    GET_CURRENT_PID_TGID = 14
    GET_CURRENT_UID_GID = 15
    GET_CURRENT_COMM = 16
    GET_STACKID = 27
    GET_CURRENT_TASK = 35
    GET_STACK = 67
    SEND_SIGNAL = 109
    GET_CURRENT_CGROUP_ID = 80
    PROBE_READ_USER = 112
    PROBE_READ_KERNEL = 113
    PROBE_READ_USER_STR = 114
    PROBE_READ_KERNEL_STR = 115
    RINGBUF_OUTPUT = 130
    RINGBUF_RESERVE = 131
    RINGBUF_SUBMIT = 132
    RINGBUF_DISCARD = 133
    FOR_EACH_MAP_ELEM = 164


#: helper -> (return type, argument types)
SIGNATURES: dict[Helper, tuple[ir.Type, tuple[ir.Type, ...]]] = {
    Helper.MAP_LOOKUP_ELEM: (PTR, (PTR, PTR)),
    Helper.MAP_UPDATE_ELEM: (I64, (PTR, PTR, PTR, I64)),
    Helper.MAP_DELETE_ELEM: (I64, (PTR, PTR)),
    Helper.KTIME_GET_NS: (I64, ()),
    Helper.GET_PRANDOM_U32: (I64, ()),
    Helper.GET_SMP_PROCESSOR_ID: (I64, ()),
    Helper.GET_CURRENT_PID_TGID: (I64, ()),
    Helper.GET_CURRENT_UID_GID: (I64, ()),
    Helper.GET_CURRENT_COMM: (I64, (PTR, I64)),
    Helper.GET_STACKID: (I64, (PTR, PTR, I64)),
    Helper.GET_CURRENT_TASK: (I64, ()),
    Helper.GET_STACK: (I64, (PTR, PTR, I64, I64)),
    Helper.SEND_SIGNAL: (I64, (I64,)),
    Helper.GET_CURRENT_CGROUP_ID: (I64, ()),
    Helper.PROBE_READ_USER: (I64, (PTR, I64, PTR)),
    Helper.PROBE_READ_KERNEL: (I64, (PTR, I64, PTR)),
    Helper.PROBE_READ_USER_STR: (I64, (PTR, I64, PTR)),
    Helper.PROBE_READ_KERNEL_STR: (I64, (PTR, I64, PTR)),
    Helper.RINGBUF_OUTPUT: (I64, (PTR, PTR, I64, I64)),
    Helper.RINGBUF_RESERVE: (PTR, (PTR, I64, I64)),
    Helper.RINGBUF_SUBMIT: (VOID, (PTR, I64)),
    Helper.RINGBUF_DISCARD: (VOID, (PTR, I64)),
    Helper.FOR_EACH_MAP_ELEM: (I64, (PTR, PTR, PTR, I64)),
}


def call(b: ir.IRBuilder, helper: Helper, *args: ir.Value) -> ir.Instruction:
    """Emit ``helper(args...)``; integer arguments are widened/narrowed and pointers cast to fit."""
    ret, params = SIGNATURES[helper]
    fty = ir.FunctionType(ret, params)
    callee = ir.Constant(I64, int(helper)).inttoptr(fty.as_pointer())
    callee.function_type = fty  # llvmlite reads the callee's type from here
    fixed = [_coerce(b, a, t) for a, t in zip(args, params, strict=True)]
    return b.call(callee, fixed)


def _coerce(b: ir.IRBuilder, value: ir.Value, want: ir.Type) -> ir.Value:
    have = value.type
    if have == want:
        return value
    if isinstance(want, ir.PointerType):
        if isinstance(have, ir.PointerType):
            return b.bitcast(value, want)
        return b.inttoptr(value, want)
    if isinstance(have, ir.PointerType):
        return b.ptrtoint(value, want)
    if have.width < want.width:
        return b.zext(value, want)
    return b.trunc(value, want)
