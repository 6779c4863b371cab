"""pybpf demo: trace every execve on this machine, from C to events, with pip-installed tools only.

    bash scripts/demo              # as root: compiles, loads, attaches, traces for a few seconds
    bash scripts/demo --seconds 10

1. compiles ``hello.bpf.c`` (libbpf-style C) with the ``ziglang`` package — no clang, no
   kernel headers: ``vmlinux.h`` is generated from the running kernel's BTF;
2. reads the object back as pure data (``ObjectSpec``) and shows its disassembly;
3. loads it into the kernel, attaches its tracepoint, runs a few commands itself, and prints
   each exec the program reports through its ring buffer, then the per-command counts map.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import pybpf
import pybpf.cc
from pybpf.cli import main as cli
from pybpf.events import RingBuffer

HERE = Path(__file__).parent


def show_object(obj_path: Path) -> None:
    print("== pybpf spec (the object as pure data: no syscall made)")
    cli(["spec", str(obj_path)])
    print("\n== pybpf disasm")
    cli(["disasm", "--no-relocs", str(obj_path)])


def trace(obj_path: Path, seconds: float) -> None:
    from pybpf.btf import Kind, kernel_btf

    btf = kernel_btf()
    task = btf[btf.find_one("task_struct", Kind.STRUCT)]
    print(f"\n== kernel BTF: {len(btf)} types; struct task_struct is {task.size} bytes, {len(task.members)} members")

    with pybpf.load(obj_path) as obj:
        links = obj.attach_all()
        print(f"== loaded {', '.join(obj.programs)}; attached: {', '.join(repr(link) for link in links)}")
        print(f"== tracing execve for {seconds:g}s (the demo runs a few commands itself)\n")
        print(f"{'PID':>7} {'PPID':>7}  {'COMM':<16} FILENAME")

        def text(raw: object) -> str:
            return bytes(raw).split(b"\0", 1)[0].decode(errors="replace")  # type: ignore[call-overload]

        def show(event: object) -> None:
            e = event  # a numpy record decoded through the object's BTF ``struct event``
            print(f"{int(e['pid']):>7} {int(e['ppid']):>7}  {text(e['comm']):<16} {text(e['filename'])}")  # type: ignore[index]

        with RingBuffer(obj.maps["events"], show, record_type="event", btf=obj) as events:
            deadline = time.monotonic() + seconds
            commands = [["true"], ["uname", "-r"], ["ls", "/"], ["id", "-u"], ["date"]]
            while time.monotonic() < deadline:
                if commands:
                    subprocess.run(commands.pop(0), stdout=subprocess.DEVNULL, check=False)
                events.poll(0.2)
            events.consume()
            lost = events.lost

        print("\n== exec_counts map (what the program counted, read through its BTF types)")
        counts = sorted(((v, k) for k, v in obj.maps["exec_counts"].items()), reverse=True)
        for count, comm in counts[:15]:
            print(f"  {text(comm):<16} {count}")
        print(f"\nlost events: {lost}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="how long to trace (default 3)")
    args = parser.parse_args()

    start = time.perf_counter()
    obj_path = pybpf.cc.compile(HERE / "hello.bpf.c")
    print(f"== compiled examples/hello.bpf.c in {time.perf_counter() - start:.2f}s -> {obj_path}\n")
    show_object(obj_path)
    if os.geteuid() != 0:
        print("\n(not root: loading and tracing need CAP_BPF and CAP_PERFMON; run the demo as root)")
        return 0
    trace(obj_path, args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
