"""sk_msg verdict programs on a SOCKMAP see (and can refuse) what TCP sockets on loopback send."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from progs_net import load

from pybpf.enums import AttachType, LinkType
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
