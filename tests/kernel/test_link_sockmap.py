"""sk_msg verdict programs on a SOCKMAP see (and can refuse) what TCP sockets on loopback send."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest
from progs_net import child_cgroup, load

from pybpf.enums import AttachType, LinkType
from pybpf.link.cgroup import cgroup
from pybpf.link.sockmap import sockmap


@pytest.fixture
def tcp_pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
        server.settimeout(1)
        try:
            yield client, server
        finally:
            client.close()
            server.close()


@pytest.mark.parametrize("use_link", [None, False])
def test_sk_msg_verdict_counts_messages(tcp_pair: tuple[socket.socket, socket.socket], use_link: bool | None) -> None:
    client, server = tcp_pair
    with load("sockmap") as obj:
        g = obj.globals
        assert g is not None
        with sockmap(obj.programs["msg_verdict"], obj.maps["socks"], use_link=use_link) as lk:
            if use_link is None:  # this kernel has sockmap links (6.10)
                info = lk.info()
                assert info.type == LinkType.SOCKMAP and info.details["attach_type"] == AttachType.SK_MSG_VERDICT
            else:
                assert lk.fd is None
            obj.maps["socks"][0] = client.fileno()
            client.sendall(b"hello sockmap")
            assert server.recv(64) == b"hello sockmap"
            assert (g["messages"], g["bytes"]) == (1, 13)
            del obj.maps["socks"][0]
        client.sendall(b"later")
        assert server.recv(64) == b"later"
        assert g["messages"] == 1


def test_sk_msg_drop_refuses_send(tcp_pair: tuple[socket.socket, socket.socket]) -> None:
    client, _server = tcp_pair
    with load("sockmap", drop=1) as obj, sockmap(obj.programs["msg_verdict"], obj.maps["socks"]):
        obj.maps["socks"][0] = client.fileno()
        with pytest.raises(PermissionError):  # SK_DROP: sendmsg fails with EACCES
            client.send(b"refused")
        assert obj.globals is not None and obj.globals["messages"] == 1


def test_sk_skb_verdict_sees_received_data(tcp_pair: tuple[socket.socket, socket.socket]) -> None:
    client, server = tcp_pair
    with load("sockmap") as obj:
        g = obj.globals
        assert g is not None
        with sockmap(obj.programs["skb_verdict"], obj.maps["rx_socks"]) as lk:  # SEC("sk_skb/verdict")
            assert lk.info().details["attach_type"] == AttachType.SK_SKB_VERDICT
            obj.maps["rx_socks"][0] = server.fileno()
            client.sendall(b"through the verdict")
            assert server.recv(64) == b"through the verdict"
            assert g["skbs"] >= 1 and g["skb_bytes"] == 19
            del obj.maps["rx_socks"][0]


CONNECTOR = textwrap.dedent("""
    import socket, sys
    with open(sys.argv[1] + "/cgroup.procs", "w") as f:
        f.write("0")
    with socket.create_connection(("127.0.0.1", int(sys.argv[2]))) as s:
        s.sendall(b"from the cgroup")
        s.recv(1)
""")


def test_sockops_fills_sockmap_for_sk_msg() -> None:
    with child_cgroup() as cg, socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        with load("sockops", port=port) as obj:
            g = obj.globals
            assert g is not None
            with cgroup(obj.programs["track"], cg) as ops, sockmap(obj.programs["count_msg"], obj.maps["socks"]):
                assert ops.info().details["attach_type"] == AttachType.CGROUP_SOCK_OPS
                child = subprocess.Popen([sys.executable, "-c", CONNECTOR, str(cg), str(port)])
                try:
                    conn, _ = listener.accept()
                    with conn:
                        conn.settimeout(5)
                        assert conn.recv(64) == b"from the cgroup"
                        conn.sendall(b"k")
                    assert child.wait(timeout=10) == 0
                finally:
                    if child.poll() is None:
                        child.kill()
                        child.wait()
                assert g["established"] == 1 and g["messages"] == 1
