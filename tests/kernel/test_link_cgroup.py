"""cgroup programs on a child cgroup of the v2 hierarchy that the test creates (and removes):
cgroup_skb counts the UDP packets a process in it sends on loopback; connect4 rewrites and refuses."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from progs_net import child_cgroup, compiled, load, stop, wait_for

from pybpf._sys import AttachFlags
from pybpf.enums import AttachType, LinkType
from pybpf.errors import BPFError
from pybpf.link.cgroup import CgroupBusyError, attached, cgroup

PORT = 40555

SENDER = textwrap.dedent("""
    import socket, sys
    with open(sys.argv[1] + "/cgroup.procs", "w") as f:
        f.write("0")   # move this process into the test cgroup
    n, port = int(sys.argv[2]), int(sys.argv[3])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for i in range(n):
            s.sendto(b"m%d" % i, ("127.0.0.1", port))
""")

CONNECTOR = textwrap.dedent("""
    import errno, json, socket, sys
    with open(sys.argv[1] + "/cgroup.procs", "w") as f:
        f.write("0")
    out = {}
    for port in map(int, sys.argv[2:]):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.connect(("127.0.0.1", port))
            s.send(b"hello")
            out[port] = s.getpeername()[1]
        except OSError as exc:
            out[port] = errno.errorcode[exc.errno]
        finally:
            s.close()
    print(json.dumps(out))
""")


@pytest.fixture
def cg() -> Iterator[Path]:
    with child_cgroup() as path:
        yield path


def _in_cgroup(script: str, cg: Path, *args: object) -> str:
    return subprocess.run([sys.executable, "-c", script, str(cg), *map(str, args)], check=True, capture_output=True,
                          text=True, timeout=30).stdout


@pytest.mark.parametrize("use_link", [True, False])
def test_cgroup_skb_counts_traffic_of_process_in_cgroup(cg: Path, use_link: bool) -> None:
    with load("cgroup_net", port=PORT) as obj:
        g = obj.globals
        assert g is not None
        prog = obj.programs["count_egress"]
        with cgroup(prog, cg, use_link=use_link) as lk:  # attach type from SEC("cgroup_skb/egress")
            if use_link:
                info = lk.info()
                assert info.type == LinkType.CGROUP and info.details["attach_type"] == AttachType.CGROUP_INET_EGRESS
            else:
                assert lk.fd is None
            q = attached(cg, AttachType.CGROUP_INET_EGRESS)
            assert q.prog_ids == (prog.id,)
            _in_cgroup(SENDER, cg, 9, PORT)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:  # this process is not in the cgroup
                s.sendto(b"outside", ("127.0.0.1", PORT))
            assert g["egress_packets"] == 9
        assert attached(cg, AttachType.CGROUP_INET_EGRESS).prog_ids == ()
        _in_cgroup(SENDER, cg, 2, PORT)
        assert g["egress_packets"] == 9


def test_cgroup_link_by_relative_path_and_update(cg: Path) -> None:
    with load("cgroup_net", port=PORT) as a, load("cgroup_net", port=PORT) as b:
        assert a.globals is not None and b.globals is not None
        with cgroup(a.programs["count_egress"], cg.name) as lk:  # relative to the v2 mount
            _in_cgroup(SENDER, cg, 3, PORT)
            link_id = lk.id
            lk.update(b.programs["count_egress"])
            assert lk.id == link_id
            _in_cgroup(SENDER, cg, 4, PORT)
        assert (a.globals["egress_packets"], b.globals["egress_packets"]) == (3, 4)


def test_prog_attach_flags_exclusive_and_replace(cg: Path) -> None:
    with load("cgroup_net", port=PORT) as a, load("cgroup_net", port=PORT) as b:
        assert a.globals is not None and b.globals is not None
        pa, pb = a.programs["count_egress"], b.programs["count_egress"]
        with cgroup(pa, cg, flags=AttachFlags.ALLOW_MULTI, use_link=False) as la:
            with cgroup(pb, cg, flags=AttachFlags.ALLOW_MULTI, use_link=False):
                assert set(attached(cg, AttachType.CGROUP_INET_EGRESS).prog_ids) == {pa.id, pb.id}
                _in_cgroup(SENDER, cg, 2, PORT)
                assert (a.globals["egress_packets"], b.globals["egress_packets"]) == (2, 2)
            la.update(pb)  # PROG_ATTACH with BPF_F_REPLACE
            assert attached(cg, AttachType.CGROUP_INET_EGRESS).prog_ids == (pb.id,)
        assert attached(cg, AttachType.CGROUP_INET_EGRESS).prog_ids == ()
        with cgroup(pa, cg, flags=AttachFlags.NONE), pytest.raises(CgroupBusyError, match="exclusively"):
            cgroup(pb, cg)  # a link cannot join an exclusive hook


def test_connect4_rewrites_and_refuses(cg: Path) -> None:
    with load("cgroup_net", redirect_from=40600, redirect_to=40601, refuse=40602) as obj:
        assert obj.globals is not None
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as target:
            target.bind(("127.0.0.1", 40601))
            target.settimeout(2)
            with cgroup(obj.programs["rewrite_connect4"], cg):
                out = json.loads(_in_cgroup(CONNECTOR, cg, 40600, 40602, 40603))
                assert target.recv(16) == b"hello"
            assert out == {"40600": 40601, "40602": "EPERM", "40603": 40603}
            assert obj.globals["connects"] == 3
            # detached: connects are no longer rewritten
            out = json.loads(_in_cgroup(CONNECTOR, cg, 40600))
            assert out == {"40600": 40600}


def test_missing_cgroup_says_where_to_look() -> None:
    with load("cgroup_net") as obj, pytest.raises(BPFError, match="cgroup v2 hierarchy"):
        cgroup(obj.programs["count_egress"], "/sys/fs/cgroup/unified/no-such-pybpf-cgroup")


def test_section_dispatch_takes_attach_type_from_section(cg: Path) -> None:
    with load("cgroup_net", port=PORT) as obj:
        assert obj.attach_all() == []  # cgroup sections name no cgroup
        lk = obj.programs["rewrite_connect4"].attach(cg)
        assert lk.info().details["attach_type"] == AttachType.CGROUP_INET4_CONNECT
        assert attached(cg, AttachType.CGROUP_INET4_CONNECT).prog_ids == (obj.programs["rewrite_connect4"].id,)
    assert attached(cg, AttachType.CGROUP_INET4_CONNECT).prog_ids == ()


KILLED = textwrap.dedent("""
    import sys, time
    import pybpf
    from pybpf.link.cgroup import cgroup
    obj = pybpf.load(sys.argv[1])
    lk = cgroup(obj.programs["count_egress"], sys.argv[2], use_link=sys.argv[3] == "link")
    print("attached", flush=True)
    time.sleep(60)
""")


@pytest.mark.parametrize("how", ["link", "prog_attach"])
def test_sigkilled_owner_leaves_only_prog_attach_behind(cg: Path, how: str) -> None:
    child = subprocess.Popen([sys.executable, "-c", KILLED, str(compiled("cgroup_net")), str(cg), how],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "attached"
        assert len(attached(cg, AttachType.CGROUP_INET_EGRESS).prog_ids) == 1
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
        if how == "link":  # the link died with its process
            assert wait_for(lambda: attached(cg, AttachType.CGROUP_INET_EGRESS).prog_ids == ())
        else:  # documented: a PROG_ATTACH attachment belongs to the cgroup and stays
            assert len(attached(cg, AttachType.CGROUP_INET_EGRESS).prog_ids) == 1
    finally:
        stop(child)
