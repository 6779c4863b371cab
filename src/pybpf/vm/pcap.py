"""Classic libpcap capture files: a small reader and writer.

Format (tcpdump's pcap-savefile): a 24-byte global header — magic ``0xa1b2c3d4``
(microsecond timestamps) or ``0xa1b23c4d`` (nanosecond), in the writer's byte order; version
2.4; thiszone; sigfigs; snaplen; link type — then per packet a 16-byte record header
(ts_sec, ts_usec/nsec, incl_len, orig_len) and ``incl_len`` bytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO, Iterator

from ..errors import FormatError

__all__ = ["PcapPacket", "PcapReader", "PcapWriter", "LINKTYPE_ETHERNET"]

LINKTYPE_ETHERNET = 1
_MAGIC_US = 0xA1B2C3D4
_MAGIC_NS = 0xA1B23C4D


@dataclass(frozen=True)
class PcapPacket:
    """One captured packet: timestamp (seconds, and the sub-second part in ns) and bytes."""

    ts_sec: int
    ts_nsec: int
    data: bytes
    orig_len: int


class PcapReader:
    """Iterate over the packets of a pcap file (either byte order, µs or ns timestamps)."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        head = stream.read(24)
        if len(head) < 24:
            raise FormatError("not a pcap file: shorter than its 24-byte header")
        for order in ("<", ">"):
            magic = struct.unpack(order + "I", head[:4])[0]
            if magic in (_MAGIC_US, _MAGIC_NS):
                break
        else:
            raise FormatError(f"not a classic pcap file (magic {head[:4].hex()}); pcapng is not supported: "
                              "convert it with `editcap -F pcap in.pcapng out.pcap`")
        self.order = order
        self.nanoseconds = magic == _MAGIC_NS
        _, self.version_major, self.version_minor, _, _, self.snaplen, self.linktype = struct.unpack(
            order + "IHHiIII", head)

    def __iter__(self) -> Iterator[PcapPacket]:
        rec = struct.Struct(self.order + "IIII")
        while True:
            head = self.stream.read(16)
            if not head:
                return
            if len(head) < 16:
                raise FormatError("pcap file ends inside a packet record header")
            sec, frac, incl, orig = rec.unpack(head)
            data = self.stream.read(incl)
            if len(data) < incl:
                raise FormatError(f"pcap file ends inside a packet ({len(data)} of {incl} bytes)")
            yield PcapPacket(sec, frac if self.nanoseconds else frac * 1000, data, orig)


class PcapWriter:
    """Write packets to a pcap file (little-endian, microsecond timestamps)."""

    def __init__(self, stream: BinaryIO, *, linktype: int = LINKTYPE_ETHERNET, snaplen: int = 262144) -> None:
        self.stream = stream
        stream.write(struct.pack("<IHHiIII", _MAGIC_US, 2, 4, 0, 0, snaplen, linktype))

    def write(self, data: bytes, *, ts_sec: int = 0, ts_nsec: int = 0, orig_len: int | None = None) -> None:
        self.stream.write(struct.pack("<IIII", ts_sec, ts_nsec // 1000, len(data),
                                      len(data) if orig_len is None else max(orig_len, len(data))))
        self.stream.write(data)
