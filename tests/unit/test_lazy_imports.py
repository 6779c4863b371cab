"""Start-up cost: what ``pybpf trace`` and the libraries import before they need it.

Each check runs in a fresh interpreter (``sys.modules`` of this test process already holds
everything) and lists the modules loaded after the imports or the command under test.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import types

import pytest


def _modules_after(code: str) -> set[str]:
    """The names in ``sys.modules`` after running ``code`` in a new interpreter."""
    script = textwrap.dedent(code) + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


#: hook families the tracer never uses for a tracepoint program
_OTHER_HOOKS = ["pybpf.link.xdp", "pybpf.link.tc", "pybpf.link.cgroup", "pybpf.link.sockmap", "pybpf.link.sk_lookup",
                "pybpf.link.netfilter", "pybpf.link.socket", "pybpf.link.uprobe", "pybpf.link.usdt",
                "pybpf.link._netlink", "pybpf.link.auto"]


def test_events_does_not_import_numpy() -> None:
    mods = _modules_after("import pybpf.events\nfrom pybpf.events import RingBuffer, PerfBuffer, btf_dtype")
    assert "pybpf.events.ringbuf" in mods
    assert "numpy" not in mods
    assert "asyncio" not in mods


def test_link_imports_only_the_used_hook_family() -> None:
    mods = _modules_after("from pybpf import link\nlink.tracepoint")
    assert "pybpf.link.tracepoint" in mods
    assert not set(_OTHER_HOOKS) & mods


def test_stacks_does_not_import_numpy() -> None:
    assert "numpy" not in _modules_after("from pybpf.stacks import StackTraceMap")


def test_trace_start_up_imports() -> None:
    """The modules a ``pybpf trace`` run imports before attaching: the CLI, a compiled script,
    the session (with the ring buffer reader and stack map it uses) and the tracepoint attach."""
    mods = _modules_after("""
        from pybpf.cli import build_parser
        build_parser().parse_args(["trace", "-e", "BEGIN { exit(); }"])
        from pybpf.trace import analyse, parse
        from pybpf.trace.codegen import compile_script
        from pybpf.trace.runtime.output import make_printer
        from pybpf.trace.runtime.session import Session
        from pybpf.events import RingBuffer
        from pybpf.stacks import StackTraceMap
        from pybpf import link
        link.tracepoint
        import pybpf.loader, pybpf.collection
    """)
    assert "pybpf.trace.codegen" in mods
    unneeded = {"numpy", "asyncio", "gzip", "ctypes.util", "pybpf.bcc", "pybpf.cc", "pybpf.vm", "pybpf.btf.c_dump",
                "pybpf.features", *_OTHER_HOOKS}
    assert not unneeded & mods, sorted(unneeded & mods)


@pytest.mark.parametrize("name", ["xdp", "tc", "iter", "kprobe", "perf_event", "tracepoint", "cgroup", "netfilter",
                                  "sk_lookup", "sockmap", "uprobe", "usdt", "raw_tracepoint"])
def test_link_attribute_is_the_function_before_and_after_importing_its_module(name: str) -> None:
    """``link.xdp`` is the attach function whether or not ``pybpf.link.xdp`` was imported, and
    whichever way (``import pybpf.link.xdp``, ``from pybpf.link.xdp import ...``)."""
    code = f"""
        import importlib, types
        from pybpf import link
        before = getattr(link, {name!r})
        importlib.import_module("pybpf.link.{name}")
        after = getattr(link, {name!r})
        print(type(before).__name__, type(after).__name__, before is after)
    """
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["function", "function", "True"]


def test_link_attribute_is_the_function_when_the_module_was_imported_first() -> None:
    code = """
        from pybpf.link.xdp import XDPMode
        import pybpf.link.tc
        from pybpf import link
        from pybpf.link.xdp import xdp
        print(type(link.xdp).__name__, type(link.tc).__name__, link.xdp is xdp, link.XDPMode is XDPMode)
    """
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["function", "function", "True", "True"]


def test_link_names_all_resolve() -> None:
    from pybpf import link

    for name in link.__all__:
        value = getattr(link, name)
        assert not isinstance(value, types.ModuleType), name
    assert isinstance(link.tracing, types.ModuleType)  # a submodule read as an attribute
    assert set(link.__all__) <= set(dir(link))
    with pytest.raises(AttributeError):
        link.no_such_hook  # noqa: B018
