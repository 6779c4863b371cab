"""Fixture programs of the network link tests, and the namespaces / cgroups they run in.

Everything a test changes lives in network namespaces and cgroups it creates here and removes
afterwards (``ip netns del`` takes the veth pairs and addresses with it); nothing touches the
host's interfaces except loopback.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pybpf
import pybpf.cc
from pybpf.link.cgroup import cgroup2_mount
from pybpf.spec import ObjectSpec

HERE = Path(__file__).parent
CLONE_NEWNET = 0x40000000
T = TypeVar("T")
_counter = itertools.count()


def compiled(name: str) -> Path:
    """The object of ``<name>.bpf.c`` (pybpf.cc caches by content)."""
    return pybpf.cc.compile(HERE / f"{name}.bpf.c")


def load(name: str, **rodata: object) -> pybpf.Collection:
    """Load ``<name>.bpf.c`` with the given read-only globals set."""
    spec = ObjectSpec.from_file(compiled(name))
    for key, value in rodata.items():
        spec.rodata[key] = value
    return pybpf.load(spec)


def unique(prefix: str) -> str:
    """A short name unique to this process and call (interface names stop at 15 characters)."""
    return f"{prefix}{os.getpid() % 100000}{next(_counter)}"


def run(*cmd: str) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


_libc = ctypes.CDLL(None, use_errno=True)


class NetNS:
    """A network namespace made with ``ip netns add`` (removed by :meth:`delete`)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.path = f"/run/netns/{name}"
        run("ip", "netns", "add", name)
        self.ip("link", "set", "lo", "up")

    def ip(self, *args: str) -> str:
        """``ip -n <ns> ...``"""
        return run("ip", "-n", self.name, *args)

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` in a thread that entered this namespace; its result or its exception."""
        out: dict[str, Any] = {}

        def body() -> None:
            try:
                fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
                try:
                    if _libc.setns(fd, CLONE_NEWNET) != 0:
                        err = ctypes.get_errno()
                        raise OSError(err, f"setns({self.path}): {os.strerror(err)}")
                finally:
                    os.close(fd)
                out["result"] = fn(*args, **kwargs)
            except BaseException as exc:  # handed to the caller's thread
                out["error"] = exc

        thread = threading.Thread(target=body, name=f"netns-{self.name}")
        thread.start()
        thread.join()
        if "error" in out:
            raise out["error"]
        return out["result"]  # type: ignore[no-any-return]

    def delete(self) -> None:
        subprocess.run(["ip", "netns", "del", self.name], check=False, capture_output=True)


@contextmanager
def netns() -> Iterator[NetNS]:
    ns = NetNS(unique("pybpf"))
    try:
        yield ns
    finally:
        ns.delete()


@contextmanager
def veth_between(addr_a: str = "192.0.2.1", addr_b: str = "192.0.2.2") -> Iterator[tuple[NetNS, NetNS, str, str]]:
    """Two namespaces joined by a veth pair (``a`` in the first, ``b`` in the second), addressed /24."""
    with netns() as a, netns() as b:
        va, vb = unique("pbva"), unique("pbvb")
        a.ip("link", "add", va, "type", "veth", "peer", "name", vb, "netns", b.name)
        a.ip("addr", "add", f"{addr_a}/24", "dev", va)
        b.ip("addr", "add", f"{addr_b}/24", "dev", vb)
        a.ip("link", "set", va, "up")
        b.ip("link", "set", vb, "up")
        yield a, b, va, vb


@contextmanager
def child_cgroup() -> Iterator[Path]:
    """A child cgroup of the v2 hierarchy, removed afterwards (its processes must have exited)."""
    path = cgroup2_mount() / unique("pybpf-test-")
    path.mkdir()
    try:
        yield path
    finally:
        for _ in range(50):  # a just-exited child may take a moment to leave the cgroup
            try:
                path.rmdir()
                break
            except OSError:
                time.sleep(0.05)
        else:
            shutil.rmtree(path, ignore_errors=True)


def drain(receiver: socket.socket) -> int:
    """Read datagrams until ``receiver`` times out (set its timeout first); how many came."""
    got = 0
    try:
        while True:
            receiver.recv(64)
            got += 1
    except (TimeoutError, socket.timeout):
        return got


def wait_for(predicate: Callable[[], bool], timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def stop(child: subprocess.Popen[bytes]) -> None:
    """Kill (and reap) ``child`` if it still runs, and close its stdout pipe."""
    if child.poll() is None:
        child.kill()
        child.wait()
    if child.stdout is not None:
        child.stdout.close()
