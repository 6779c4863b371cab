"""Socket filters on a UDP socket on loopback see, count and can drop its packets."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from progs_net import load

from pybpf.errors import SyscallError
from pybpf.link.socket import reuseport, socket_filter


@pytest.fixture
def udp_pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    r.bind(("127.0.0.1", 0))
    r.settimeout(0.3)
    try:
        yield r, s
    finally:
        r.close()
        s.close()


def _exchange(r: socket.socket, s: socket.socket, payloads: list[bytes]) -> list[bytes]:
    for p in payloads:
        s.sendto(p, r.getsockname())
    got = []
    try:
        while True:
            got.append(r.recv(256))
    except (TimeoutError, socket.timeout):
        return got


def test_socket_filter_sees_the_sockets_packets(udp_pair: tuple[socket.socket, socket.socket]) -> None:
    r, s = udp_pair
    with load("socket_filter") as obj:
        g = obj.globals
        assert g is not None
        with socket_filter(obj.programs["count_packets"], r) as lk:
            assert lk.fd is None
            assert _exchange(r, s, [b"a" * 10, b"b" * 20, b"c" * 30]) == [b"a" * 10, b"b" * 20, b"c" * 30]
            assert g["seen"] == 3
            assert g["seen_bytes"] == 3 * 8 + 60  # skb->len covers the UDP header here
        assert _exchange(r, s, [b"after"]) == [b"after"]
        assert g["seen"] == 3  # detached with SO_DETACH_BPF


def test_socket_filter_drops_and_update_swaps(udp_pair: tuple[socket.socket, socket.socket]) -> None:
    r, s = udp_pair
    with load("socket_filter", drop=1) as dropping, load("socket_filter") as passing:
        with socket_filter(dropping.programs["count_packets"], r.fileno()) as lk:  # a bare fd works too
            assert _exchange(r, s, [b"x", b"y"]) == []
            assert dropping.globals is not None and dropping.globals["seen"] == 2
            lk.update(passing.programs["count_packets"])
            assert _exchange(r, s, [b"z"]) == [b"z"]
            assert passing.globals is not None and passing.globals["seen"] == 1
        assert _exchange(r, s, [b"w"]) == [b"w"]


def test_closing_link_after_socket_closed_is_quiet() -> None:
    with load("socket_filter") as obj:
        r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        lk = socket_filter(obj.programs["count_packets"], r)
        r.close()
        lk.close()
        assert lk.closed


def test_socket_filter_on_non_socket_fails() -> None:
    import os

    with load("socket_filter") as obj:
        fd = os.open("/dev/null", os.O_RDONLY)
        try:
            with pytest.raises((SyscallError, OSError)):
                socket_filter(obj.programs["count_packets"], fd)
        finally:
            os.close(fd)


def test_reuseport_program_attaches_to_group() -> None:
    with load("socket_filter") as obj:
        socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
        try:
            for so in socks:
                so.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            socks[0].bind(("127.0.0.1", 0))
            socks[1].bind(socks[0].getsockname())
            with reuseport(obj.programs["count_packets"], socks[0]):
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                    s.sendto(b"q", socks[0].getsockname())
                # the socket filter program picked a group member (its return value as an index)
                assert obj.globals is not None
                assert obj.globals["seen"] == 1
        finally:
            for so in socks:
                so.close()
