"""netfilter links in a test network namespace count, and can drop, its loopback packets."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from progs_net import NetNS, load, netns

from pybpf.enums import LinkType
from pybpf.link.netfilter import NFHook, NFProto, netfilter

PORT = 40888


@pytest.fixture
def ns() -> Iterator[NetNS]:
    with netns() as n:
        yield n


def _send(n: int) -> int:
    """Send ``n`` datagrams on loopback; how many were received (a refused send counts as lost)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as r, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        r.bind(("127.0.0.1", PORT))
        r.settimeout(0.2)
        for i in range(n):
            try:
                s.sendto(b"n%d" % i, ("127.0.0.1", PORT))
            except PermissionError:
                pass
        got = 0
        try:
            while True:
                r.recv(32)
                got += 1
        except (TimeoutError, socket.timeout):
            return got


def test_netfilter_local_out_counts(ns: NetNS) -> None:
    with load("netfilter") as obj:
        g = obj.globals
        assert g is not None
        with ns.call(netfilter, obj.programs["nf_count"], pf=NFProto.IPV4, hook=NFHook.LOCAL_OUT, priority=-100) as lk:
            info = lk.info()
            assert info.type == LinkType.NETFILTER
            assert (info.details["pf"], info.details["hooknum"], info.details["priority"]) == (2, 3, -100)
            assert ns.call(_send, 5) == 5
            assert g["packets"] == 5  # nothing else runs in the test namespace
        assert ns.call(_send, 2) == 2
        assert g["packets"] == 5


def test_netfilter_drop(ns: NetNS) -> None:
    with load("netfilter", drop=1) as obj, ns.call(netfilter, obj.programs["nf_count"], hook=NFHook.LOCAL_IN):
        assert ns.call(_send, 3) == 0
        assert obj.globals is not None and obj.globals["packets"] == 3


def test_reserved_priority_is_refused() -> None:
    with load("netfilter") as obj, pytest.raises(ValueError, match="reserved"):
        netfilter(obj.programs["nf_count"], priority=-(2**31))
