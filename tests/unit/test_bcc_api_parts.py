"""Pieces of pybpf.bcc that need no kernel: trace line parsing, the attachment registry,
per-CPU value shapes."""

from __future__ import annotations

import pytest

from pybpf.bcc.attach import AttachmentError, Attachments, Hook
from pybpf.bcc.tracing import _TRACE_LINE


@pytest.mark.parametrize(("line", "expected"), [
    (b"            bash-1234    [002] d..31  5123.456789: bpf_trace_printk: Hello, World!",
     (b"bash", 1234, 2, b"d..31", 5123.456789, b"Hello, World!")),
    (b" kworker/u8:3-98765   (  98765) [000] ....  12.000001: bpf_trace_printk: 37",
     (b"kworker/u8:3", 98765, 0, b"....", 12.000001, b"37")),
    (b"   my-task name-77 [011] .N.1.  1.5: bpf_trace_printk: a: b",
     (b"my-task name", 77, 11, b".N.1.", 1.5, b"a: b")),
    (b"          <idle>-0       [001] 99.000000: bpf_trace_printk: no flags",
     (b"<idle>", 0, 1, b"", 99.0, b"no flags")),
])
def test_trace_lines(line: bytes, expected: tuple[object, ...]) -> None:
    m = _TRACE_LINE.match(line)
    assert m is not None
    got = (m["task"], int(m["pid"]), int(m["cpu"]), m["flags"] or b"", float(m["ts"]), m["msg"])
    assert got == expected


def test_lost_notice_is_not_an_event() -> None:
    assert _TRACE_LINE.match(b"CPU:3 [LOST 12 EVENTS]") is None


class FakeLink:
    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


def test_attachment_registry() -> None:
    reg = Attachments()
    a, b, c = FakeLink(), FakeLink(), FakeLink()
    reg.add(Hook.KPROBE, "__x64_sys_sync", "f", a)  # type: ignore[arg-type]
    reg.add(Hook.KRETPROBE, "__x64_sys_sync", "g", b)  # type: ignore[arg-type]
    reg.add(Hook.USDT, "/bin/x:p:n", "h", c)  # type: ignore[arg-type]
    assert (reg.count("kprobes"), reg.count("uprobes"), reg.count("tracepoints")) == (2, 1, 0)
    dup = FakeLink()
    with pytest.raises(AttachmentError, match="already attached"):
        reg.add(Hook.KPROBE, "__x64_sys_sync", "f", dup)  # type: ignore[arg-type]
    assert dup.closed and not a.closed
    assert reg.remove(Hook.KPROBE, "__x64_sys_sync") == 1 and a.closed
    with pytest.raises(AttachmentError, match="nothing is attached to kprobe __x64_sys_sync"):
        reg.remove(Hook.KPROBE, "__x64_sys_sync")
    reg.close()
    assert b.closed and c.closed and reg.count("kprobes") == 0
