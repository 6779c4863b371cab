"""tcx links and classic tc (clsact + cls_bpf) count the UDP packets on a test namespace's loopback
and on a veth between two test namespaces."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator

import pytest
from progs_net import NetNS, drain, load, netns, veth_between, wait_for

from pybpf.enums import AttachType, LinkType
from pybpf.link import _netlink
from pybpf.link.tc import TCDirection, tc, tcx

PORT = 40321


@pytest.fixture
def ns() -> Iterator[NetNS]:
    with netns() as n:
        yield n


def _loopback_exchange(n: int, port: int) -> int:
    """Send ``n`` datagrams to 127.0.0.1:port and count those that arrive."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as r, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        r.bind(("127.0.0.1", port))
        r.settimeout(0.3)
        for i in range(n):
            s.sendto(b"p%d" % i, ("127.0.0.1", port))
        return drain(r)


def test_tcx_ingress_and_egress_count_loopback_packets(ns: NetNS) -> None:
    with load("tc_udp", port=PORT) as obj:
        g = obj.globals
        assert g is not None
        ingress = ns.call(tcx, obj.programs["tc_ingress"], "lo")  # direction from SEC("tcx/ingress")
        egress = ns.call(tcx, obj.programs["tc_egress"], "lo", direction=TCDirection.EGRESS)
        with ingress, egress:
            assert ingress.info().type == LinkType.TCX
            assert ingress.info().details["attach_type"] == AttachType.TCX_INGRESS
            assert egress.info().details["attach_type"] == AttachType.TCX_EGRESS
            assert ns.call(_loopback_exchange, 7, PORT) == 7
            assert g["ingress_packets"] == 7 and g["egress_packets"] == 7
        assert ns.call(_loopback_exchange, 2, PORT) == 2
        assert g["ingress_packets"] == 7 and g["egress_packets"] == 7


def test_tcx_drop_and_order(ns: NetNS) -> None:
    with load("tc_udp", port=PORT, drop=1) as obj:
        g = obj.globals
        assert g is not None
        with ns.call(tcx, obj.programs["tc_ingress"], "lo") as first:
            # tc_second placed before the dropping program sees the packets; placed after, it would not
            with ns.call(tcx, obj.programs["tc_second"], "lo", before=first):
                assert ns.call(_loopback_exchange, 4, PORT) == 0
                assert g["ingress_packets"] == 4 and g["second_packets"] == 4
            with ns.call(tcx, obj.programs["tc_second"], "lo", after=obj.programs["tc_ingress"]):
                assert ns.call(_loopback_exchange, 3, PORT) == 0
                assert g["ingress_packets"] == 7 and g["second_packets"] == 4


def test_tcx_update_swaps_program(ns: NetNS) -> None:
    with load("tc_udp", port=PORT, drop=1) as dropping, load("tc_udp", port=PORT) as passing:
        with ns.call(tcx, dropping.programs["tc_ingress"], "lo") as lk:
            assert ns.call(_loopback_exchange, 2, PORT) == 0
            link_id = lk.id
            lk.update(passing.programs["tc_ingress"])
            assert lk.id == link_id
            assert ns.call(_loopback_exchange, 2, PORT) == 2
            assert passing.globals is not None and passing.globals["ingress_packets"] == 2


def test_tc_picks_tcx_here(ns: NetNS) -> None:
    with load("tc_udp", port=PORT) as obj, ns.call(tc, obj.programs["tc_egress"], "lo") as lk:
        assert lk.fd is not None and lk.info().type == LinkType.TCX
        assert lk.info().details["attach_type"] == AttachType.TCX_EGRESS


def test_classic_tc_filter_counts_and_is_removed() -> None:
    with veth_between() as (a, b, _va, vb), load("tc_udp", port=PORT) as obj:
        g = obj.globals
        assert g is not None
        lk = b.call(tc, obj.programs["tc_ingress"], vb, use_tcx=False, priority=7)
        assert lk.fd is None
        filters = b.call(_netlink.tc_filters, b.call(socket.if_nametoindex, vb), _netlink.TC_H_CLSACT_INGRESS)
        assert [(f["priority"], f["name"]) for f in filters] == [(7, "tc_ingress")]
        shown = _tc_show(b, vb)
        assert "pref 7 bpf" in shown and "tc_ingress" in shown and "direct-action" in shown

        def send(n: int) -> None:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                for i in range(n):
                    s.sendto(b"c%d" % i, ("192.0.2.2", PORT))

        a.call(send, 5)
        assert wait_for(lambda: g["ingress_packets"] == 5)
        b.call(lk.update, obj.programs["tc_second"])  # a new filter at the next priority, the old removed
        assert [f["name"] for f in b.call(_netlink.tc_filters, b.call(socket.if_nametoindex, vb),
                                         _netlink.TC_H_CLSACT_INGRESS)] == ["tc_second"]
        a.call(send, 2)
        assert wait_for(lambda: g["second_packets"] == 2)
        assert g["ingress_packets"] == 5
        b.call(lk.close)
        assert "bpf" not in _tc_show(b, vb)


def _tc_show(ns: NetNS, dev: str) -> str:
    return subprocess.run(["tc", "-n", ns.name, "filter", "show", "dev", dev, "ingress"], check=True,
                          capture_output=True, text=True).stdout


def test_section_dispatch_needs_interface_and_takes_direction_from_section(ns: NetNS) -> None:
    from pybpf.link import AttachError

    with load("tc_udp", port=PORT) as obj:
        assert obj.attach_all() == []  # tc/tcx sections name no interface: not auto-attached
        with pytest.raises(AttachError, match="names no target"):
            obj.programs["tc_egress"].attach()
        lk = ns.call(obj.programs["tc_egress"].attach, "lo")
        assert lk.info().details["attach_type"] == AttachType.TCX_EGRESS
        assert ns.call(_loopback_exchange, 2, PORT) == 2
        assert obj.globals is not None and obj.globals["egress_packets"] == 2
    assert lk.closed  # closing the Collection detached it
