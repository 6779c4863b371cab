"""From bcc text to live objects: rewrite + compile (through the dialect, cached by
:mod:`pybpf.cc`), load the programs whose hook is known, and load more programs later
(``load_func`` on a plain function, a kprobe rewritten for this kernel) against the *same*
maps.

Programs loaded later share the maps by pinning them for the moment of the load in a
private directory of the bpf filesystem (``BY_NAME`` reuse), then unpinning them.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Sequence

from ..collection import Collection, load
from ..enums import PinType, ProgramType
from ..errors import BPFError
from ..map import Map
from ..spec import ObjectSpec, ProgramSpec
from .dialect import AttachRequest, RewriteResult, compile_bcc

log = logging.getLogger("pybpf.bcc")

#: where the maps are pinned while a later program is loaded against them
BPFFS = Path("/sys/fs/bpf")
_SHARED_SECTIONS = (".bss", ".data")


@dataclasses.dataclass
class Built:
    """A compiled bcc program: the object's spec and what the rewriter reported."""

    path: Path
    spec: ObjectSpec
    result: RewriteResult


class _LoadFuncSections(logging.Filter):
    """Drops the ELF reader's warning about ``.bcc.fn/`` sections: their type comes with ``load_func``."""

    def filter(self, record: logging.LogRecord) -> bool:
        return ".bcc.fn/" not in record.getMessage()


def read_spec(path: Path) -> ObjectSpec:
    """The ObjectSpec of a compiled bcc program."""
    elf_log = logging.getLogger("pybpf.elf")
    quiet = _LoadFuncSections()
    elf_log.addFilter(quiet)
    try:
        return ObjectSpec.from_file(path)
    finally:
        elf_log.removeFilter(quiet)


@functools.lru_cache(maxsize=4)
def vmlinux_dir(cache_root: Path) -> Path:
    """The generated vmlinux.h directory for this kernel (hashing the kernel BTF once per process).

    :func:`compile_text` no longer needs it (the rewritten source includes ``vmlinux.h`` by
    name); passing it as an include directory still works (pybpf.cc knows it generated it).
    """
    from ..cc.headers import vmlinux_include_dir

    return vmlinux_include_dir(cache_root)


def compile_text(text: str, cflags: Sequence[str], *, usdt: Sequence[object] = (),
                 attach: Sequence[AttachRequest] = (), name: str = "<bcc>") -> Built:
    """Rewrite and compile ``text`` (a cache hit skips the compiler).

    The rewritten source starts with ``#include "vmlinux.h"``, so :func:`pybpf.cc.compile`
    generates (once per kernel) and precompiles the header itself.
    """
    path, result = compile_bcc(text, list(cflags), usdt=list(usdt), attach=list(attach), name=name)
    return Built(path, read_spec(path), result)


def split_deferred(spec: ObjectSpec, types: dict[str, ProgramType]) -> tuple[ObjectSpec, dict[str, object]]:
    """The spec to load now (programs with a known type; ``types`` sets some) and the
    programs left for later (``.bcc.fn/`` sections: the type comes with ``load_func``)."""
    now: dict[str, ProgramSpec] = {}
    later: dict[str, object] = {}
    for name, prog in spec.programs.items():
        if name in types:
            prog = dataclasses.replace(prog, type=types[name])
        if prog.type != ProgramType.UNSPEC:
            now[name] = prog
        else:
            later[name] = prog
    return dataclasses.replace(spec, programs=now), later


def load_main(spec: ObjectSpec, *, debug: int = 0) -> Collection:
    return load(spec, log_level=1 if debug else 0)


def load_sharing(main: Collection, spec: ObjectSpec, programs: dict[str, ProgramType], *,
                 debug: int = 0) -> Collection:
    """Load ``programs`` (name -> type) of ``spec`` against the maps of ``main``."""
    chosen = {}
    for name, ptype in programs.items():
        if name not in spec.programs:
            raise BPFError(f"the compiled object has no function {name!r}")
        prog = spec.programs[name]
        chosen[name] = dataclasses.replace(prog, type=ptype) if ptype != ProgramType.UNSPEC else prog
    base = BPFFS if BPFFS.is_dir() else None
    if base is None:
        raise BPFError("loading a function later needs the bpf filesystem at /sys/fs/bpf to share maps; "
                       "mount it: mount -t bpf bpf /sys/fs/bpf")
    pin_dir = tempfile.mkdtemp(prefix=f"pybpf-bcc-{os.getpid()}-", dir=base)
    maps = {}
    pinned: list[Map] = []
    try:
        for name, mspec in spec.maps.items():
            source = main.maps.get(name)
            if source is None and mspec.section in _SHARED_SECTIONS:
                source = next((m for n, m in main.maps.items()
                               if main.spec is not None and main.spec.maps[n].section == mspec.section), None)
            if source is None:
                maps[name] = mspec
                continue
            path = os.path.join(pin_dir, mspec.name)
            source.pin(path)
            pinned.append(source)
            maps[name] = dataclasses.replace(mspec, pinning=PinType.BY_NAME)
        sub = dataclasses.replace(spec, programs=chosen, maps=maps)
        loaded = load(sub, pin_path=pin_dir, log_level=1 if debug else 0)
    finally:
        for source in pinned:
            try:
                source.unpin()
            except OSError as exc:
                log.debug("unpinning %s: %s", source.pinned_path, exc)
        shutil.rmtree(pin_dir, ignore_errors=True)
    for m in loaded.maps.values():
        m.pinned_path = None
    return loaded


__all__ = ["BPFFS", "Built", "compile_text", "load_main", "load_sharing", "split_deferred"]
