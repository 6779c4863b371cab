"""Events from a real hook: a syscall tracepoint reports the unique file the test opens
through a ring buffer (batch and asyncio) and a perf buffer."""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from pathlib import Path

from progs_events import load

from pybpf import link
from pybpf.events import PerfBuffer, RingBuffer


def _open_unique(tmp_path: Path) -> str:
    path = tmp_path / f"pybpf-ev-{uuid.uuid4().hex[:16]}"
    path.write_text("x")
    with open(path) as f:
        f.read()
    return str(path)


def test_tracepoint_events_reach_ring_and_perf_buffers(tmp_path: Path) -> None:
    samples: list[bytes] = []
    with load("tp_events") as obj, \
            RingBuffer(obj.maps["opens_rb"], record_type="open_event", btf=obj) as rb, \
            PerfBuffer(obj.maps["opens_pb"], samples.append) as pb, \
            link.tracepoint(obj.programs["on_openat"], "syscalls", "sys_enter_openat"):
        paths = [_open_unique(tmp_path) for _ in range(5)]
        batch = rb.poll_batch(2.0)
        while pb.poll(0.5):
            pass
    names = [n.decode() for n in batch["name"]]
    for p in paths:  # write_text and open both open the file
        assert names.count(p) == 2
    assert (batch["pid"] == os.getpid()).all()
    assert threading.get_native_id() in set(batch["tid"].tolist())
    comm = Path("/proc/self/comm").read_text().strip().encode()
    assert (batch["comm"] == comm).all()
    perf_names = [s[24:24 + 128].split(b"\0")[0].decode() for s in samples]
    assert sorted(perf_names) == sorted(names)
    assert pb.lost == 0


def test_tracepoint_events_in_asyncio(tmp_path: Path) -> None:
    with load("tp_events") as obj, RingBuffer(obj.maps["opens_rb"], record_type="open_event", btf=obj) as rb, \
            link.tracepoint(obj.programs["on_openat"], "syscalls", "sys_enter_openat"):
        async def main() -> list[str]:
            loop = asyncio.get_running_loop()
            opener = loop.run_in_executor(None, lambda: [_open_unique(tmp_path) for _ in range(3)])
            seen: list[str] = []
            async for rec in rb:  # other opens of this process (imports) come too: keep the test's own
                name = rec["name"].decode()
                if name.startswith(str(tmp_path)):
                    seen.append(name)
                if len(seen) == 6:
                    break
            expected = await opener
            assert sorted(seen) == sorted(expected * 2)
            return seen

        asyncio.run(asyncio.wait_for(main(), 10))
