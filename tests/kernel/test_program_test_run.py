"""Program.test_run follows each program type's BPF_PROG_TEST_RUN rules: raw_tp and syscall
programs run once on a ctx (and raw_tp on a chosen CPU), a syscall program's ctx comes back
written, flow dissector and sk_lookup runs take what their runners take; an argument the type
does not take is refused before the kernel's bare EINVAL."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

import pybpf
import pybpf.cc
from pybpf.errors import NotSupportedError, SyscallError
from pybpf.link.perf_event import online_cpus
from pybpf.program_run import TestRunArgumentError

PROGS = Path(__file__).parent / "progs_load"


@pytest.fixture(scope="module")
def obj() -> Iterator[pybpf.Collection]:
    with pybpf.load(pybpf.cc.compile(PROGS / "test_run.bpf.c")) as loaded:
        yield loaded


def test_raw_tp_runs_once_on_its_arguments(obj: pybpf.Collection) -> None:
    prog = obj.programs["raw_args"]
    result = prog.test_run(ctx=struct.pack("<QQ", 0, 39))  # default repeat=1: the one run
    assert (result.retval, result.data_out, result.ctx_out) == (7, b"", b"")
    assert obj.globals is not None and obj.globals["raw_arg1"] == 39
    assert prog.test_run(ctx=struct.pack("<QQ", 0, 40), repeat=0).retval == 7
    assert obj.globals["raw_arg1"] == 40


def test_raw_tp_runs_on_the_cpu_asked_for(obj: pybpf.Collection) -> None:
    prog = obj.programs["raw_args"]
    assert obj.globals is not None
    for cpu in online_cpus():
        assert prog.test_run(ctx=bytes(16), cpu=cpu).retval == 7
        assert obj.globals["raw_cpu"] == cpu
    with pytest.raises(SyscallError, match="cpu 4096 is not online"):
        prog.test_run(ctx=bytes(16), cpu=4096)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"data": bytes(16)}, "takes no data; pass the context as ctx="),
    ({"ctx": bytes(16), "repeat": 2}, "runs the program once .* call test_run in a loop"),
    ({"ctx": bytes(16), "ctx_out_size": 16}, "gives no ctx_out"),
    ({"ctx": bytes(16), "data_out_size": 64}, "gives no data_out"),
    ({"ctx": bytes(13 * 8)}, "ctx is 104 bytes; a test run takes at most 96"),
])
def test_raw_tp_refuses_what_its_runner_does_not_take(obj: pybpf.Collection, kwargs: dict[str, object],
                                                      message: str) -> None:
    with pytest.raises(TestRunArgumentError, match=message) as err:
        obj.programs["raw_args"].test_run(**kwargs)
    assert str(err.value).startswith("RAW_TRACEPOINT program 'raw_args': ")


def test_raw_tp_ctx_shorter_than_what_it_reads(obj: pybpf.Collection) -> None:
    with pytest.raises(SyscallError, match="EINVAL.*ctx of 8 bytes; the ctx must cover every field the program reads"):
        obj.programs["raw_args"].test_run(ctx=bytes(8))  # the program reads args[1]


def test_syscall_ctx_comes_back_written(obj: pybpf.Collection) -> None:
    prog = obj.programs["add_one"]
    result = prog.test_run(ctx=struct.pack("<QQ", 41, 0))
    assert result.retval == 5
    assert struct.unpack("<QQ", result.ctx_out) == (41, 42)
    with pytest.raises(TestRunArgumentError, match="cannot choose its CPU"):
        prog.test_run(ctx=bytes(16), cpu=0)
    with pytest.raises(TestRunArgumentError, match="leave ctx_out_size unset .*it is in ctx_out"):
        prog.test_run(ctx=bytes(16), ctx_out_size=16)


def _ipv4_udp_frame() -> bytes:
    eth = bytes(12) + struct.pack("!H", 0x0800)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28, 0, 0, 64, 17, 0, socket.inet_aton("10.0.0.1"),
                     socket.inet_aton("10.0.0.2"))
    return eth + ip + struct.pack("!HHHH", 1000, 53, 8, 0)


def test_flow_dissector_data_out_is_the_flow_keys(obj: pybpf.Collection) -> None:
    prog = obj.programs["dissect"]
    result = prog.test_run(_ipv4_udp_frame(), repeat=3)
    assert result.retval == 0  # BPF_OK
    # struct bpf_flow_keys: u16 nhoff, u16 thoff, u16 addr_proto, u8 is_frag, u8 is_first_frag,
    # u8 is_encap, u8 ip_proto (set by the program), ...
    nhoff, _thoff, _proto, _frag, _first, _encap, ip_proto = struct.unpack_from("<HHHBBBB", result.data_out)
    assert (nhoff, ip_proto) == (14, 17)
    with pytest.raises(TestRunArgumentError, match="needs data of at least 14 bytes .* got 10"):
        prog.test_run(bytes(10))
    with pytest.raises(TestRunArgumentError, match="cannot choose its CPU"):
        prog.test_run(_ipv4_udp_frame(), cpu=0)


def _sk_lookup_ctx(local_port: int) -> bytes:
    # struct bpf_sk_lookup: sk/cookie, family, protocol, remote_ip4, remote_ip6[4], remote_port
    # (be16 + 2 bytes), local_ip4, local_ip6[4], local_port, ingress_ifindex (zero), padding
    lo = struct.unpack("<I", socket.inet_aton("127.0.0.1"))[0]
    return struct.pack("<QIII16sHHI16sII4x", 0, socket.AF_INET, socket.IPPROTO_TCP, lo, bytes(16),
                       socket.htons(40000), 0, lo, bytes(16), local_port, 0)


def test_sk_lookup_runs_on_its_ctx(obj: pybpf.Collection) -> None:
    prog = obj.programs["port_80"]
    assert prog.test_run(ctx=_sk_lookup_ctx(80)).retval == 1  # SK_PASS
    assert prog.test_run(ctx=_sk_lookup_ctx(81), repeat=4).retval == 0  # SK_DROP
    with pytest.raises(TestRunArgumentError, match="needs ctx=: a struct bpf_sk_lookup"):
        prog.test_run()
    with pytest.raises(TestRunArgumentError, match="takes no data"):
        prog.test_run(bytes(64), ctx=_sk_lookup_ctx(80))


def test_type_without_a_test_runner_says_so(obj: pybpf.Collection) -> None:
    with pytest.raises(NotSupportedError, match="no test runner for TRACEPOINT programs.*attach it"):
        obj.programs["on_getppid"].test_run(data=bytes(64))
