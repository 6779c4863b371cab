"""Program contexts: what ``r1`` points to, and how ``test_run`` data/ctx become it.

* :class:`Packet`: packet bytes in :data:`~pybpf.vm.memory.PACKET_REGION` (metadata, then
  data), with headroom and tailroom accounting for ``xdp_adjust_head/tail/meta``.
* XDP: ``struct xdp_md`` whose ``data``/``data_end``/``data_meta`` fields load as pointers
  into the packet region (the verifier-rewritten kernel semantics).
* Socket filter / tc / cgroup skb: ``struct __sk_buff`` (len, protocol, pkt_type, mark,
  priority, ifindex, cb[], data, data_end, ...); ``mark``, ``priority``, ``cb``, ``tc_index``,
  ``tc_classid``, ``queue_mapping`` and ``tstamp`` are writable.
* Anything else: the caller's ctx bytes as a read-only region (raw tracepoint / tracing
  u64 arguments, pt_regs, a syscall program's writable ctx).

:func:`task_struct` builds the ``struct task_struct`` bytes ``bpf_get_current_task`` points to;
:func:`current_task` the whole task context of the calling thread.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from ..enums import ProgramType
from .memory import CTX_REGION, PACKET_REGION, Memory, Region, VMError

if TYPE_CHECKING:
    from ..btf import BTF
    from .runtime import TaskContext

__all__ = ["Packet", "ContextBuilder", "build_context", "PreparedContext", "XDP_HEADROOM", "ETH_HLEN",
           "SK_BUFF_SIZE", "XDP_MD_SIZE", "task_struct", "current_task"]

ETH_HLEN = 14
#: XDP_PACKET_HEADROOM
XDP_HEADROOM = 256
#: sizeof(struct xdp_frame), kept at the start of the headroom
XDP_FRAME_SIZE = 40
#: room the test run leaves after the packet (page - headroom - skb_shared_info)
XDP_TAILROOM = 4096 - XDP_HEADROOM - 320
XDP_MD_SIZE = 24
SK_BUFF_SIZE = 192
#: XDP metadata must be at most this long and a multiple of 4
XDP_META_MAX = 255


class Packet:
    """Packet bytes in the packet region: ``meta`` then ``data``.

    The region shows exactly ``[data_meta, data_end)``; the whole frame (headroom, packet,
    tailroom) is kept too, so growing the head or the metadata exposes the bytes the frame
    holds there, as in the kernel (nothing is zeroed except a grown tail).
    """

    def __init__(self, memory: Memory, data: bytes, *, meta: bytes = b"", headroom: int = XDP_HEADROOM,
                 tailroom: int = XDP_TAILROOM, l2: bytes = b"") -> None:
        self.memory = memory
        self.meta_len = len(meta)
        #: the frame: headroom (the metadata at its end), data, tailroom
        self.frame = bytearray(headroom) + bytearray(data) + bytearray(max(tailroom, 0))
        self.frame[headroom - len(meta):headroom] = meta
        self.start = headroom - len(meta)  # offset of data_meta in the frame
        self.end = headroom + len(data)  # offset of data_end in the frame
        #: bytes before skb->data that the program does not see (socket filters' Ethernet header)
        self.l2 = l2
        self.region: Region = memory.map_fixed(PACKET_REGION, bytearray(meta + data), "the packet")

    @property
    def buf(self) -> bytearray:
        return self.region.buf

    @property
    def meta_addr(self) -> int:
        return self.region.base

    @property
    def data_addr(self) -> int:
        return self.region.base + self.meta_len

    @property
    def end_addr(self) -> int:
        return self.region.base + len(self.region.buf)

    def data(self) -> bytes:
        return bytes(self.region.buf[self.meta_len:])

    def meta(self) -> bytes:
        return bytes(self.region.buf[:self.meta_len])

    def skb_view(self) -> bytearray:
        return self.region.buf[self.meta_len:]

    def _sync(self) -> None:
        self.frame[self.start:self.end] = self.region.buf

    def _show(self) -> None:
        self.region.buf = bytearray(self.frame[self.start:self.end])
        self.memory.refresh(self.region)

    def adjust_head(self, delta: int) -> int:
        """Move the start of data by ``delta`` (negative grows the packet); 0 or -EINVAL.
        The metadata moves along with data."""
        data_off = self.start + self.meta_len
        new_data = data_off + delta
        if new_data - self.meta_len < XDP_FRAME_SIZE or new_data > self.end - ETH_HLEN:
            return -22
        self._sync()
        meta = bytes(self.frame[self.start:data_off])
        self.start = new_data - self.meta_len
        self.frame[self.start:new_data] = meta
        self._show()
        return 0

    def adjust_tail(self, delta: int) -> int:
        """Move data_end by ``delta`` (a grown tail is zeroed); 0 or -EINVAL."""
        new_end = self.end + delta
        if new_end < self.start + self.meta_len + ETH_HLEN or new_end > len(self.frame):
            return -22
        self._sync()
        if delta > 0:
            self.frame[self.end:new_end] = bytes(delta)
        self.end = new_end
        self._show()
        return 0

    def adjust_meta(self, delta: int) -> int:
        """Move data_meta by ``delta``; -EINVAL outside [xdp_frame end, data], -EACCES for a
        length that is not a multiple of 4 (the kernel's order of checks)."""
        data_off = self.start + self.meta_len
        new_start = self.start + delta
        if new_start < XDP_FRAME_SIZE or new_start > data_off:
            return -22
        new_len = data_off - new_start
        if new_len > XDP_META_MAX or new_len % 4:
            return -13
        self._sync()
        self.start, self.meta_len = new_start, new_len
        self._show()
        return 0

    def write_data(self, off: int, data: bytes) -> None:
        """Overwrite packet data at ``off`` (from the start of data; the caller checks bounds)."""
        start = self.meta_len + off
        self.region.buf[start:start + len(data)] = data

    def replace_data(self, data: bytes | bytearray) -> None:
        """Make ``data`` the packet's data (skb helpers that grow, shrink or shift it); the
        metadata, headroom and tailroom stay as they are."""
        self._sync()
        data_off = self.start + self.meta_len
        self.frame[data_off:self.end] = data
        self.end = data_off + len(data)
        self._show()

    def output(self) -> bytes:
        """What BPF_PROG_TEST_RUN gives back as data_out (a hidden link-layer header comes back
        zeroed, as the kernel's skb test run returns it)."""
        return bytes(len(self.l2)) + bytes(self.region.buf)


@dataclass
class PreparedContext:
    """A context set up for one run: r1, and how to read the results back."""

    address: int
    packet: Packet | None
    ctx_out: Callable[[], bytes]
    redirect_ret: int = 0


def _xdp(memory: Memory, data: bytes | None, ctx: bytes | None) -> PreparedContext:
    data = data or b""
    md = bytearray(ctx or bytes(XDP_MD_SIZE))
    md = md.ljust(XDP_MD_SIZE, b"\0")
    meta_len = 0
    if ctx:
        d, d_end, d_meta, _in_if, _rxq, egress = struct.unpack_from("<6I", md)
        if d_meta or egress or d_end != len(data) or d > d_end or d % 4 or d > XDP_META_MAX:
            raise VMError("invalid xdp_md ctx: data_meta and egress_ifindex must be 0, data_end the data "
                          "length, data the metadata length (<= 32, a multiple of 4)")
        meta_len = d
    else:
        struct.pack_into("<I", md, 12, 1)  # ingress_ifindex: the loopback device, as the kernel's test run
    packet = Packet(memory, data[meta_len:], meta=data[:meta_len])

    def load(off: int, size: int) -> int | None:
        if size != 4 or off % 4 or off >= XDP_MD_SIZE:
            return None
        if off == 0:
            return packet.data_addr
        if off == 4:
            return packet.end_addr
        if off == 8:
            return packet.meta_addr
        return int(struct.unpack_from("<I", md, off)[0])

    memory.map_fixed(CTX_REGION, md, "the xdp_md context", writable=False, load=load)

    def ctx_out() -> bytes:
        out = bytearray(md)
        struct.pack_into("<3I", out, 0, packet.meta_len, packet.meta_len + len(packet.data()), 0)
        return bytes(out) if ctx else b""

    return PreparedContext(CTX_REGION << 32, packet, ctx_out, redirect_ret=4)


#: bytes the kernel's sk_buff stores a __sk_buff field in (a narrow load at least this wide reads
#: the whole field, whatever its offset inside the u32; narrower loads shift)
_SKB_STORAGE = {4: 1, 12: 2, 16: 2, 20: 1, 24: 2, 28: 2, 44: 2, 72: 2, 88: 2, 164: 2, 176: 2}

#: __sk_buff fields a program may write: offset -> size
_SKB_WRITABLE = {8: 4, 12: 4, 32: 4, 44: 4, 48: 4, 52: 4, 56: 4, 60: 4, 64: 4, 72: 4, 152: 8}
_SKB_DATA, _SKB_DATA_END, _SKB_DATA_META = 76, 80, 140


def _eth_protocol(frame: bytes) -> int:
    """skb->protocol as eth_type_trans sets it (a big-endian u16, read as a host u32)."""
    proto = int.from_bytes(frame[12:14], "big")
    if proto < 0x600:  # 802.3 length field: raw IPX (0xFFFF) or 802.2 LLC
        proto = 0x0001 if frame[14:16] == b"\xff\xff" else 0x0004
    return int.from_bytes(proto.to_bytes(2, "big"), "little")


def _skb(memory: Memory, data: bytes | None, ctx: bytes | None, *, l2_hidden: bool) -> PreparedContext:
    data = data or b""
    if len(data) < ETH_HLEN:
        raise VMError(f"an skb test run needs at least {ETH_HLEN} bytes of data (an Ethernet header), "
                      f"got {len(data)}")
    skb = bytearray((ctx or b"").ljust(SK_BUFF_SIZE, b"\0")[:SK_BUFF_SIZE])
    proto = _eth_protocol(data)
    dest = data[:6]
    # eth_type_trans on the loopback device (address 00:00:00:00:00:00)
    pkt_type = 2 if dest[0] & 1 else 0 if dest == bytes(6) else 3
    packet = Packet(memory, data[ETH_HLEN:] if l2_hidden else data, l2=data[:ETH_HLEN] if l2_hidden else b"",
                    headroom=0, tailroom=0)
    ifindex = struct.unpack_from("<I", skb, 40)[0] or 1
    struct.pack_into("<I", skb, 4, pkt_type)
    struct.pack_into("<I", skb, 16, proto)
    struct.pack_into("<I", skb, 40, ifindex)
    if ctx and not struct.unpack_from("<I", skb, 160)[0]:  # wire_len defaults to the length seen
        struct.pack_into("<I", skb, 160, len(data) - (ETH_HLEN if l2_hidden else 0))

    def load(off: int, size: int) -> int | None:
        if size not in (1, 2, 4, 8) or off + size > SK_BUFF_SIZE or off % size:
            return None
        if size == 4 and off in (_SKB_DATA, _SKB_DATA_META):
            return packet.data_addr
        if size == 4 and off == _SKB_DATA_END:
            return packet.end_addr
        field = off & ~3 if off < 152 or off >= 160 else off & ~7
        width = 8 if 152 <= off < 160 or 168 <= off < 176 or off >= 184 else 4
        value = len(packet.data()) if field == 0 else int.from_bytes(skb[field:field + width], "little")
        stored = _SKB_STORAGE.get(field, width)
        if size >= stored:  # the kernel loads the whole (narrow) field whatever the offset
            return value & ((1 << (size * 8)) - 1)
        return (value >> ((off - field) * 8)) & ((1 << (size * 8)) - 1)

    def store(off: int, size: int, value: int) -> bool:
        field_size = _SKB_WRITABLE.get(off - off % 4 if off < 152 else 152)
        if field_size is None:
            return False
        skb[off:off + size] = value.to_bytes(size, "little")
        return True

    memory.map_fixed(CTX_REGION, skb, "the __sk_buff context", load=load, store=store)

    def ctx_out() -> bytes:
        if not ctx:
            return b""
        out = bytearray(ctx.ljust(SK_BUFF_SIZE, b"\0")[:SK_BUFF_SIZE])
        for off, size in _SKB_WRITABLE.items():
            out[off:off + size] = skb[off:off + size]
        out[40:44] = skb[40:44]  # ifindex
        out[160:164] = skb[160:164]  # wire_len: the length when the run started (helpers may resize)
        return bytes(out[:len(ctx)])

    return PreparedContext(CTX_REGION << 32, packet, ctx_out, redirect_ret=7)


def _raw(memory: Memory, data: bytes | None, ctx: bytes | None, *, writable: bool) -> PreparedContext:
    buf = bytearray(ctx or b"")
    memory.map_fixed(CTX_REGION, buf, "the context", writable=writable)
    packet = Packet(memory, data, headroom=0, tailroom=0) if data else None
    return PreparedContext(CTX_REGION << 32 if ctx else 0, packet,
                           lambda: bytes(buf) if ctx else b"")


ContextBuilder = Callable[[Memory, "bytes | None", "bytes | None"], PreparedContext]

#: program type -> how test_run data/ctx become its context
BUILDERS: dict[ProgramType, ContextBuilder] = {
    ProgramType.XDP: _xdp,
    ProgramType.SOCKET_FILTER: lambda m, d, c: _skb(m, d, c, l2_hidden=True),
    ProgramType.CGROUP_SKB: lambda m, d, c: _skb(m, d, c, l2_hidden=True),
    ProgramType.SCHED_CLS: lambda m, d, c: _skb(m, d, c, l2_hidden=False),
    ProgramType.SCHED_ACT: lambda m, d, c: _skb(m, d, c, l2_hidden=False),
    ProgramType.LWT_IN: lambda m, d, c: _skb(m, d, c, l2_hidden=True),
    ProgramType.LWT_OUT: lambda m, d, c: _skb(m, d, c, l2_hidden=True),
    ProgramType.LWT_XMIT: lambda m, d, c: _skb(m, d, c, l2_hidden=True),
    ProgramType.SYSCALL: lambda m, d, c: _raw(m, d, c, writable=True),
}


def build_context(prog_type: ProgramType, memory: Memory, data: bytes | None, ctx: bytes | None) -> PreparedContext:
    """Set up the context (and packet) regions for one run of a ``prog_type`` program."""
    builder = BUILDERS.get(prog_type)
    if builder is None:
        return _raw(memory, data, ctx, writable=False)
    return builder(memory, data, ctx)


def task_struct(btf: BTF | None = None, **fields: object) -> bytes:
    """The bytes of a ``struct task_struct`` with ``fields`` set (the rest zero), laid out as in
    ``btf`` (default: the running kernel's BTF, which CO-RE relocates the programs against too).
    Values are what :func:`pybpf.btf.values.encode_value` takes: ints, bytes for char arrays,
    dicts for nested structs. Give the result to ``TaskContext(task_struct=...)``.

    >>> ts = task_struct(pid=42, tgid=42, comm=b"worker")            # doctest: +SKIP
    >>> vm.load(obj, task=TaskContext(pid=42, tgid=42, comm=b"worker", task_struct=ts))
    """
    from ..btf import Kind
    from ..btf.values import encode_value
    from ..errors import BTFError

    if btf is None:
        from ..btf import kernel_btf

        btf = kernel_btf()
    ids = btf.find("task_struct", Kind.STRUCT)
    if not ids:
        raise BTFError("the BTF has no struct task_struct; pass the kernel's BTF (pybpf.btf.kernel_btf()) or one "
                       "from a vmlinux with BTF")
    return encode_value(btf, ids[0], fields)


def current_task(btf: BTF | None = None) -> TaskContext:
    """A :class:`~pybpf.vm.TaskContext` for the calling thread: its pid (thread id), tgid
    (process id), uid, gid and comm, and a ``task_struct`` (laid out as in ``btf``, default the
    kernel's) holding the same pid, tgid and comm, as a kernel test run would see them."""
    import os
    import threading

    from .runtime import TaskContext

    tid, tgid = threading.get_native_id(), os.getpid()
    try:
        with open(f"/proc/self/task/{tid}/comm", "rb") as f:
            comm = f.read().rstrip(b"\n")
    except OSError:  # no procfs: the kernel would have a name, the VM makes do without
        comm = b""
    return TaskContext(pid=tid, tgid=tgid, uid=os.getuid(), gid=os.getgid(), comm=comm,
                       task_struct=task_struct(btf, pid=tid, tgid=tgid, comm=comm))
