"""``pybpf vm xdp|socket``: programs over pcap files, and the pcap reader/writer."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest

from pybpf.cli import main
from pybpf.errors import FormatError
from pybpf.vm.pcap import PcapReader, PcapWriter

ROOT = Path(__file__).parent.parent


def _udp(daddr: bytes, ttl: int = 64) -> bytes:
    eth = b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00"
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28, 1, 0, ttl, 17, 0, b"\x0a\x00\x00\x01", daddr)
    return eth + ip + struct.pack("!HHHH", 1, 2, 8, 0)


PACKETS = [_udp(b"\x7f\x00\x00\x01"), _udp(b"\x0a\x00\x00\x02"), _udp(b"\x0a\x00\x00\x02", ttl=1),
           b"\x00" * 6 + b"\x01" * 6 + b"\x86\xdd" + bytes(40), bytes(10)]


def _write(path: Path, packets: list[bytes]) -> None:
    with open(path, "wb") as f:
        w = PcapWriter(f)
        for i, p in enumerate(packets):
            w.write(p, ts_sec=1000 + i, ts_nsec=i * 1000)


def test_pcap_round_trip_and_big_endian() -> None:
    buf = io.BytesIO()
    w = PcapWriter(buf)
    w.write(b"abc", ts_sec=5, ts_nsec=7000)
    buf.seek(0)
    (pkt,) = list(PcapReader(buf))
    assert (pkt.ts_sec, pkt.ts_nsec, pkt.data) == (5, 7000, b"abc")
    be = struct.pack(">IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65535, 1) + struct.pack(">IIII", 1, 2, 2, 2) + b"hi"
    (pkt,) = list(PcapReader(io.BytesIO(be)))
    assert (pkt.ts_nsec, pkt.data) == (2, b"hi")
    with pytest.raises(FormatError, match="pcapng"):
        PcapReader(io.BytesIO(b"\x0a\x0d\x0d\x0a" + bytes(20)))
    with pytest.raises(FormatError, match="ends inside"):
        list(PcapReader(io.BytesIO(be[:-1])))


def test_vm_xdp_over_a_capture(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pybpf.cc import compile as cc_compile

    obj = cc_compile(ROOT / "differential" / "progs" / "xdp_parse.c", cflags=["-mcpu=v3"])
    _write(tmp_path / "in.pcap", PACKETS)
    rc = main(["vm", "xdp", str(obj), "--pcap", str(tmp_path / "in.pcap"), "-o", str(tmp_path / "out.pcap")])
    assert rc == 0
    out = capsys.readouterr().out
    # 127.0.0.1 -> XDP_TX (3); 10.0.0.2 -> PASS; ttl 1 UDP -> DROP; IPv6 -> PASS; runt -> DROP
    assert "5 packets" in out
    assert "XDP_PASS" in out and "XDP_DROP" in out and "XDP_TX" in out
    with open(tmp_path / "out.pcap", "rb") as f:
        passed = [p.data for p in PcapReader(f)]
    assert passed == [PACKETS[1], PACKETS[3]]


def test_vm_socket_over_a_capture(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pybpf.cc import compile as cc_compile

    src = tmp_path / "keep.c"
    src.write_text('#define SEC(x) __attribute__((section(x), used))\n'
                   'SEC("socket") int keep(void *skb) { return 20; }\nchar LICENSE[] SEC("license") = "GPL";\n')
    obj = cc_compile(src)
    _write(tmp_path / "in.pcap", PACKETS[:2])
    rc = main(["vm", "socket", str(obj), "--pcap", str(tmp_path / "in.pcap"), "-o", str(tmp_path / "o.pcap"), "-v"])
    assert rc == 0
    assert "truncate" in capsys.readouterr().out
    with open(tmp_path / "o.pcap", "rb") as f:
        assert [p.data for p in PcapReader(f)] == [PACKETS[0][:20], PACKETS[1][:20]]


def test_vm_cli_names_the_programs_when_ambiguous(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pybpf.cc import compile as cc_compile

    src = tmp_path / "two.c"
    src.write_text('#define SEC(x) __attribute__((section(x), used))\n'
                   'SEC("xdp") int a(void *c) { return 2; }\nSEC("xdp") int b(void *c) { return 1; }\n'
                   'char LICENSE[] SEC("license") = "GPL";\n')
    obj = cc_compile(src)
    _write(tmp_path / "in.pcap", PACKETS[:1])
    assert main(["vm", "xdp", str(obj), "--pcap", str(tmp_path / "in.pcap")]) == 1
    assert "--program" in capsys.readouterr().err
    assert main(["vm", "xdp", str(obj), "--pcap", str(tmp_path / "in.pcap"), "--program", "b"]) == 0
    assert "XDP_DROP" in capsys.readouterr().out
