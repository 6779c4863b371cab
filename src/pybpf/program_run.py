"""What BPF_PROG_TEST_RUN takes for each program type, checked before :meth:`Program.test_run` asks.

The kernel's test runners differ by program type, and each answers a misfit argument with a
bare EINVAL. Their rules, as data (from the runners of the kernel's ``net/bpf/test_run.c``):

========================  ====  ===============  ======  ============  =========================
program type              data  ctx              repeat  ctx_out       cpu (BPF_F_TEST_RUN_ON_CPU)
========================  ====  ===============  ======  ============  =========================
RAW_TRACEPOINT            no    <= 12 u64 args   once    no            yes
SYSCALL                   no    <= 65535 bytes   once    written back  no
FLOW_DISSECTOR            >= 14 bpf_flow_keys    yes     yes           no
SK_LOOKUP                 no    bpf_sk_lookup    yes     yes           no
others (skb, XDP, ...)    yes   per type         yes     yes           no
========================  ====  ===============  ======  ============  =========================

"once" means the kernel wants ``repeat == 0``: ``test_run()``'s default ``repeat=1`` is sent as
0 (the same single run), a larger count is refused. A SYSCALL program's ctx is written back in
place by the kernel; ``test_run`` returns it as ``ctx_out``. A FLOW_DISSECTOR run's ``data_out``
is the ``struct bpf_flow_keys`` the program filled, not the packet.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass

from ._sys import ENOTSUPP, TestRunFlags
from .enums import ProgramType
from .errors import BPFError, NotSupportedError, SyscallError

__all__ = ["RULES", "RunRequest", "TestRunArgumentError", "TestRunRules", "check", "explain_failure"]

#: MAX_BPF_FUNC_ARGS * sizeof(u64): a raw tracepoint passes at most 12 arguments
_RAW_TP_MAX_CTX = 12 * 8
#: ETH_HLEN: the flow dissector starts at the Ethernet header
_ETH_HLEN = 14
#: sizeof(struct bpf_sk_lookup)
_SK_LOOKUP_CTX = 72


class TestRunArgumentError(BPFError, ValueError):
    """``Program.test_run`` was given an argument that this program type's test run does not take."""

    __test__ = False  # not a pytest test class


@dataclass(frozen=True)
class TestRunRules:
    """What BPF_PROG_TEST_RUN accepts for one program type."""

    __test__ = False  # not a pytest test class

    #: takes a packet in ``data`` (and gives ``data_out``)
    data: bool = True
    #: the smallest packet it takes (bytes)
    min_data: int = 0
    #: the largest ctx it takes (bytes), None: whatever the type's ctx struct allows
    max_ctx: int | None = None
    #: what the ctx must be, when one is required
    ctx_required: str = ""
    #: what the ctx is, for error messages
    ctx_is: str = ""
    #: gives the ctx back through ``ctx_out``
    ctx_out: bool = True
    #: the kernel writes the ctx back into ``ctx_in`` (read it from there)
    ctx_written_back: bool = False
    #: runs many times per call (False: the kernel wants repeat == 0, one run)
    repeats: bool = True
    #: may run on a chosen CPU (BPF_F_TEST_RUN_ON_CPU + cpu)
    on_cpu: bool = False


_DEFAULT = TestRunRules()

RULES: dict[ProgramType, TestRunRules] = {
    ProgramType.RAW_TRACEPOINT: TestRunRules(
        data=False, max_ctx=_RAW_TP_MAX_CTX, ctx_out=False, repeats=False, on_cpu=True,
        ctx_is="the tracepoint's arguments, one u64 each: struct bpf_raw_tracepoint_args",
    ),
    ProgramType.SYSCALL: TestRunRules(
        data=False, max_ctx=0xFFFF, ctx_out=False, ctx_written_back=True, repeats=False,
        ctx_is="the program's argument struct, which the kernel writes back: see ctx_out",
    ),
    ProgramType.FLOW_DISSECTOR: TestRunRules(
        min_data=_ETH_HLEN, ctx_is="a struct bpf_flow_keys (56 bytes) giving the flags and where to start",
    ),
    ProgramType.SK_LOOKUP: TestRunRules(
        data=False, max_ctx=_SK_LOOKUP_CTX,
        ctx_required=f"a struct bpf_sk_lookup of up to {_SK_LOOKUP_CTX} bytes: family AF_INET or AF_INET6, "
                     "protocol, the remote and local addresses and ports; sk and the fields after "
                     "local_port zero",
    ),
}


def rules_for(prog_type: ProgramType) -> TestRunRules:
    """The test-run rules of ``prog_type`` (those of packet programs when it has none of its own)."""
    return RULES.get(prog_type, _DEFAULT)


@dataclass(frozen=True)
class RunRequest:
    """The BPF_PROG_TEST_RUN arguments ``test_run`` sends once its arguments pass :func:`check`."""

    __test__ = False

    data: bytes | None
    ctx: bytes | bytearray | None
    repeat: int
    data_out_size: int | None
    ctx_out_size: int | None
    flags: TestRunFlags
    cpu: int


def check(prog_type: ProgramType, name: str, *, data: bytes | None, ctx: bytes | None, repeat: int,
          data_out_size: int | None, ctx_out_size: int | None, cpu: int | None) -> RunRequest:
    """The request for these ``test_run`` arguments, or :class:`TestRunArgumentError` saying which
    argument ``prog_type``'s test run does not take and what to pass instead."""
    rules = rules_for(prog_type)
    what = f"{prog_type.name} program {name!r}"

    def refuse(message: str) -> TestRunArgumentError:
        return TestRunArgumentError(f"{what}: {message}")

    if repeat < 0:
        raise refuse(f"repeat must be >= 0, got {repeat}")
    if not rules.data and data:
        raise refuse(f"a test run takes no data; pass the context as ctx=: {rules.ctx_is}")
    if not rules.data and data_out_size:
        raise refuse("a test run gives no data_out; leave data_out_size unset")
    if rules.min_data and len(data or b"") < rules.min_data:
        raise refuse(f"a test run needs data of at least {rules.min_data} bytes (a packet from its "
                     f"Ethernet header), got {len(data or b'')}")
    if rules.ctx_required and not ctx:
        raise refuse(f"a test run needs ctx=: {rules.ctx_required}")
    if rules.max_ctx is not None and ctx is not None and len(ctx) > rules.max_ctx:
        raise refuse(f"ctx is {len(ctx)} bytes; a test run takes at most {rules.max_ctx}: "
                     f"{rules.ctx_required or rules.ctx_is}")
    if not rules.ctx_out and ctx_out_size:
        back = " (the kernel writes the ctx back: it is in ctx_out)" if rules.ctx_written_back else ""
        raise refuse(f"a test run gives no ctx_out; leave ctx_out_size unset{back}")
    if not rules.repeats and repeat > 1:
        raise refuse("a test run runs the program once (the kernel refuses a repeat count); "
                     "call test_run in a loop")
    if cpu is not None and not rules.on_cpu:
        raise refuse("a test run cannot choose its CPU (only RAW_TRACEPOINT programs can); leave cpu unset")
    if cpu is not None and cpu < 0:
        raise refuse(f"cpu must be >= 0, got {cpu}")
    sent_ctx: bytes | bytearray | None = ctx
    if rules.ctx_written_back and ctx is not None:
        sent_ctx = bytearray(ctx)  # the kernel writes into the caller's buffer: this one
    return RunRequest(
        data=data,
        ctx=sent_ctx,
        repeat=repeat if rules.repeats else 0,
        data_out_size=data_out_size if rules.data else 0,
        ctx_out_size=ctx_out_size if rules.ctx_out else 0,
        flags=TestRunFlags.RUN_ON_CPU if cpu is not None else TestRunFlags.NONE,
        cpu=cpu or 0,
    )


def explain_failure(prog_type: ProgramType, name: str, request: RunRequest, exc: SyscallError) -> BPFError:
    """The error to raise for a test run the kernel refused, told in terms of the program type."""
    what = f"{prog_type.name} program {name!r}"
    if exc.errno == ENOTSUPP:  # no test runner for this program type
        return NotSupportedError(
            f"BPF_PROG_TEST_RUN of {what}",
            reason=f"the kernel has no test runner for {prog_type.name} programs",
            alternative="attach it and trigger its event, or run it in pybpf.vm",
        )
    rules = rules_for(prog_type)
    ctx_rule = rules.ctx_required or rules.ctx_is
    if exc.errno == errno.EINVAL and ctx_rule:
        size = len(request.ctx or b"")
        return SyscallError(exc.command, errno.EINVAL,
                            f"the kernel refused the test run of {what} with its ctx of {size} bytes; the ctx must "
                            f"cover every field the program reads, and be {ctx_rule}")
    if exc.errno == errno.ENXIO and request.flags & TestRunFlags.RUN_ON_CPU:
        return SyscallError(exc.command, errno.ENXIO, f"cpu {request.cpu} is not online (see pybpf.link.perf_event.online_cpus)")
    return exc
