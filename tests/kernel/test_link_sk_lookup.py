"""sk_lookup in a test network namespace steers datagrams for an unbound port to a chosen socket."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from progs_net import NetNS, load, netns

from pybpf.enums import AttachType, LinkType
from pybpf.link.sk_lookup import sk_lookup

STEERED = 40777


@pytest.fixture
def ns() -> Iterator[NetNS]:
    with netns() as n:
        yield n


def _send_and_receive(server: socket.socket) -> bytes | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b"steer me", ("127.0.0.1", STEERED))
    try:
        return server.recv(64)
    except (TimeoutError, socket.timeout):
        return None


def _server() -> socket.socket:
    srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    srv.bind(("127.0.0.1", 0))
    srv.settimeout(0.5)
    return srv


def test_sk_lookup_steers_to_socket_in_sockmap(ns: NetNS) -> None:
    with load("sk_lookup", port=STEERED) as obj, ns.call(_server) as srv:
        assert obj.globals is not None
        obj.maps["socks"][0] = srv.fileno()
        assert ns.call(_send_and_receive, srv) is None  # nothing listens on STEERED
        with ns.call(sk_lookup, obj.programs["steer"]) as lk:  # this thread's namespace: the test netns
            info = lk.info()
            assert info.type == LinkType.NETNS and info.details["attach_type"] == AttachType.SK_LOOKUP
            assert ns.call(_send_and_receive, srv) == b"steer me"
            assert obj.globals["steered"] == 1
        assert ns.call(_send_and_receive, srv) is None
        assert obj.globals["steered"] == 1


def test_sk_lookup_by_namespace_path_and_update(ns: NetNS) -> None:
    with load("sk_lookup", port=STEERED) as a, load("sk_lookup", port=STEERED) as b, ns.call(_server) as srv:
        assert a.globals is not None and b.globals is not None
        a.maps["socks"][0] = srv.fileno()
        b.maps["socks"][0] = srv.fileno()
        with sk_lookup(a.programs["steer"], ns.name) as lk:  # from outside, by `ip netns` name
            assert ns.call(_send_and_receive, srv) == b"steer me"
            lk.update(b.programs["steer"])
            assert ns.call(_send_and_receive, srv) == b"steer me"
        assert (a.globals["steered"], b.globals["steered"]) == (1, 1)
