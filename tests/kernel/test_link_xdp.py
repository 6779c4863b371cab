"""XDP on a veth pair between two network namespaces the test creates: the program counts and
drops the UDP packets sent from the other namespace; links go away with their process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest
from progs_net import NetNS, compiled, drain, load, stop, veth_between, wait_for

from pybpf.enums import LinkType
from pybpf.link.xdp import XDPBusyError, XDPMode, attached_program_id, xdp

PORT = 40123
N = 20


@pytest.fixture
def pair() -> Iterator[tuple[NetNS, NetNS, str, str]]:
    with veth_between() as p:
        yield p


def _receiver(port: int) -> socket.socket:
    r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    r.bind(("192.0.2.2", port))
    r.settimeout(0.3)
    return r


def _send(n: int, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for i in range(n):
            s.sendto(b"x%d" % i, ("192.0.2.2", port))


#: what `ip link show` calls each mode on a veth (which has native XDP)
SHOWN = {XDPMode.AUTO: " xdp ", XDPMode.SKB: " xdpgeneric ", XDPMode.DRIVER: " xdp "}


@pytest.mark.parametrize("mode", [XDPMode.AUTO, XDPMode.SKB, XDPMode.DRIVER])
def test_xdp_link_counts_and_drops_udp(pair: tuple[NetNS, NetNS, str, str], mode: XDPMode) -> None:
    a, b, _va, vb = pair
    receiver = b.call(_receiver, PORT)
    with receiver, load("xdp_udp", port=PORT, drop=1) as obj:
        assert obj.globals is not None
        prog = obj.programs["xdp_udp"]
        lk = b.call(xdp, prog, vb, mode=mode)
        with lk:
            info = lk.info()
            assert info.type == LinkType.XDP and info.prog_id == prog.id
            assert info.details["ifindex"] == b.call(socket.if_nametoindex, vb)
            shown = b.ip("link", "show", vb)
            assert SHOWN[mode] in shown and f"prog/xdp id {prog.id} " in shown
            a.call(_send, N, PORT)
            assert wait_for(lambda: obj.globals["udp_packets"] >= N)
            assert obj.globals["udp_packets"] == N
            assert drain(receiver) == 0
        # detached: packets arrive again and are no longer counted
        assert "prog/xdp" not in b.ip("link", "show", vb)
        a.call(_send, 3, PORT)
        assert drain(receiver) == 3
        assert obj.globals["udp_packets"] == N


def test_xdp_pass_lets_packets_through_and_update_swaps(pair: tuple[NetNS, NetNS, str, str]) -> None:
    a, b, _va, vb = pair
    receiver = b.call(_receiver, PORT)
    with receiver, load("xdp_udp", port=PORT, drop=0) as counting, load("xdp_udp", port=PORT, drop=1) as dropping:
        assert counting.globals is not None and dropping.globals is not None
        with b.call(xdp, counting.programs["xdp_udp"], vb) as lk:
            link_id = lk.id
            a.call(_send, 5, PORT)
            assert wait_for(lambda: counting.globals["udp_packets"] == 5)
            assert drain(receiver) == 5
            lk.update(dropping.programs["xdp_udp"])  # BPF_LINK_UPDATE: same link, new program
            assert lk.id == link_id and lk.info().prog_id == dropping.programs["xdp_udp"].id
            a.call(_send, 4, PORT)
            assert wait_for(lambda: dropping.globals["udp_packets"] == 4)
            assert drain(receiver) == 0
            assert counting.globals["udp_packets"] == 5


def test_second_xdp_link_on_same_interface_is_busy(pair: tuple[NetNS, NetNS, str, str]) -> None:
    _a, b, _va, vb = pair
    with load("xdp_udp", port=PORT) as obj, b.call(xdp, obj.programs["xdp_udp"], vb):
        with pytest.raises(XDPBusyError, match="already has an XDP program"):
            b.call(xdp, obj.programs["xdp_pass"], vb)


def test_xdp_netlink_fallback_attaches_replaces_and_detaches(pair: tuple[NetNS, NetNS, str, str]) -> None:
    a, b, _va, vb = pair
    receiver = b.call(_receiver, PORT)
    with receiver, load("xdp_udp", port=PORT, drop=1) as obj:
        assert obj.globals is not None
        prog = obj.programs["xdp_udp"]
        lk = b.call(xdp, prog, vb, mode=XDPMode.SKB, use_link=False)
        assert lk.fd is None
        assert b.call(attached_program_id, vb) == prog.id
        a.call(_send, 6, PORT)
        assert wait_for(lambda: obj.globals["udp_packets"] == 6)
        assert drain(receiver) == 0
        with pytest.raises(XDPBusyError):
            b.call(xdp, obj.programs["xdp_pass"], vb, mode=XDPMode.SKB, use_link=False)
        b.call(lk.update, obj.programs["xdp_pass"])
        assert b.call(attached_program_id, vb) == obj.programs["xdp_pass"].id
        b.call(lk.close)
        assert b.call(attached_program_id, vb) == 0
        assert "xdp" not in b.ip("link", "show", vb)


CHILD = textwrap.dedent("""
    import sys, time
    import pybpf
    from pybpf.link.xdp import xdp
    obj = pybpf.load(sys.argv[1])
    lk = xdp(obj.programs["xdp_pass"], sys.argv[2])
    print(lk.info().id, flush=True)
    time.sleep(60)
""")


def test_sigkilled_owner_leaves_no_xdp_program(pair: tuple[NetNS, NetNS, str, str]) -> None:
    _a, b, _va, vb = pair
    child = subprocess.Popen(["ip", "netns", "exec", b.name, sys.executable, "-c", CHILD, str(compiled("xdp_udp")), vb],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip().isdigit()
        assert "xdp" in b.ip("link", "show", vb)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
        assert wait_for(lambda: "xdp" not in b.ip("link", "show", vb))
    finally:
        stop(child)
