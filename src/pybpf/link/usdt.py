"""USDT probes (``<sys/sdt.h>`` static tracepoints in user binaries).

Design (the Python half of ``<bpf/usdt.bpf.h>``):

1. :func:`probes` reads the binary's ``.note.stapsdt`` notes (:mod:`pybpf.link._usdt_spec`):
   provider, name, the probe's pc, its semaphore and argument specs, adjusted for prelink
   through ``.stapsdt.base``. A probe name may have several sites (inlined or repeated
   ``DTRACE_PROBE`` calls); each site is attached.
2. Each site's argument specs become one ``struct __pybpf_usdt_spec`` written into the
   program's ARRAY map ``__pybpf_usdt_specs`` (declared by the header, created by the loader
   like any map; found through the program's map ids, or passed as ``specs_map=``). The
   slot index is the site's *spec id*. Slots are allocated per map in this process and freed
   (zeroed) when the link closes.
3. A uprobe goes on the site's pc (file offset through ``PT_LOAD``) with the spec id as its
   BPF cookie; ``bpf_usdt_arg(ctx, n, &v)`` looks the spec up by ``bpf_get_attach_cookie()``.
4. A probe guarded by a semaphore (``PROVIDER_NAME_ENABLED()``) gets the semaphore's file
   offset as the uprobe's ``ref_ctr_offset``: the kernel increments it in every process while
   the probe is attached, so the guarded code runs only then (kernel >= 4.20).

Needs BPF cookies (kernel >= 5.15). :func:`usdt` returns a :class:`~pybpf.link.LinkGroup`
(one member link per site).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from elftools.common.exceptions import ELFError as _PyElfError
from elftools.elf.elffile import ELFFile

from ..errors import BPFError, ELFError
from ._uprobe_resolve import BinaryImage, UprobeTargetError, find_library
from ._usdt_spec import UsdtArg, UsdtNote, encode_spec, parse_args, parse_notes
from .base import Link, LinkGroup
from .uprobe import attach_offset

if TYPE_CHECKING:
    from ..map import Map
    from ..program import Program

log = logging.getLogger("pybpf.link")

#: The map the header declares, and the 15-byte name the kernel keeps of it.
SPECS_MAP = "__pybpf_usdt_specs"
_KERNEL_NAME = SPECS_MAP[:15]


@dataclass(frozen=True)
class UsdtProbe:
    """One USDT probe site of a binary, ready to attach."""

    path: str
    provider: str
    name: str
    address: int  # virtual address of the site
    offset: int  # its file offset (the uprobe offset)
    semaphore: int  # virtual address of the semaphore (0: none)
    semaphore_offset: int  # its file offset (the uprobe ref_ctr_offset), 0: none
    args: tuple[UsdtArg, ...]
    arg_text: str


def _read_notes(path: str) -> tuple[list[UsdtNote], str]:
    try:
        with open(path, "rb") as f:
            elf = ELFFile(f)
            sec = elf.get_section_by_name(".note.stapsdt")
            base = elf.get_section_by_name(".stapsdt.base")
            data = sec.data() if sec is not None else b""
            addr_size = 8 if elf.elfclass == 64 else 4
            base_addr = base["sh_addr"] if base is not None else None
            machine = str(elf.header["e_machine"])
    except (_PyElfError, ValueError) as exc:
        raise ELFError(f"{path}: not a readable ELF binary ({exc})") from None
    except OSError as exc:
        raise UprobeTargetError(f"USDT target {path}: {exc.strerror}") from None
    return parse_notes(data, addr_size=addr_size, base_addr=base_addr), machine


def probes(binary: str | os.PathLike[str], provider: str | None = None, name: str | None = None) -> list[UsdtProbe]:
    """The USDT probe sites of ``binary`` (a path or library name), optionally only those of
    ``provider`` / ``name``. Argument specs are parsed; a malformed note raises ELFError.

        >>> [(p.provider, p.name, p.arg_text) for p in probes("/usr/bin/python3")]   # doctest: +SKIP
        [('python', 'function__entry', '8@%r14 8@%r15 -4@%eax'), ...]
    """
    path = find_library(binary)
    notes, machine = _read_notes(path)
    image = BinaryImage.open(path) if notes else None
    out = []
    for note in notes:
        if (provider is not None and note.provider != provider) or (name is not None and note.name != name):
            continue
        assert image is not None
        sem_off = image.vaddr_to_offset(note.semaphore) if note.semaphore else 0
        out.append(UsdtProbe(path, note.provider, note.name, note.pc, image.vaddr_to_offset(note.pc), note.semaphore,
                             sem_off, tuple(parse_args(note.args, machine)), note.args))
    return out


# -- the spec map ----------------------------------------------------------------------------


class _SpecSlots:
    """Which slots of each spec map (by map id) this process has handed out."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._used: dict[int, set[int]] = {}

    def take(self, map_id: int, count: int, capacity: int) -> list[int]:
        with self._lock:
            used = self._used.setdefault(map_id, set())
            free = [i for i in range(capacity) if i not in used][:count]
            if len(free) < count:
                raise BPFError(f"USDT spec map {SPECS_MAP} is full ({capacity} sites attached); define "
                               "PYBPF_USDT_MAX_SPECS larger before including <bpf/usdt.bpf.h>")
            used.update(free)
            return free

    def give_back(self, map_id: int, slots: Sequence[int]) -> None:
        with self._lock:
            self._used.get(map_id, set()).difference_update(slots)


_SLOTS = _SpecSlots()


def find_specs_map(prog: Program) -> Map:
    """A new handle on ``prog``'s ``__pybpf_usdt_specs`` map (through the program's map ids)."""
    from ..map import Map

    for map_id in prog.info(instructions=False).map_ids:
        m = Map.from_id(map_id, btf=False)
        if m.name == _KERNEL_NAME:
            return m
        m.close()
    raise BPFError(f"program {prog.name!r} uses no {SPECS_MAP} map: include <bpf/usdt.bpf.h> and read the "
                   "arguments with bpf_usdt_arg() / BPF_USDT(), or pass specs_map=")


def usdt(
    prog: Program,
    binary: str | os.PathLike[str],
    provider: str,
    name: str,
    *,
    pid: int | None = None,
    cookie: int = 0,
    specs_map: Map | None = None,
) -> Link:
    """Attach ``prog`` (``SEC("usdt")``, written with ``<bpf/usdt.bpf.h>``) to every site of the
    USDT probe ``provider:name`` in ``binary`` (a path or library name).

    ``pid`` limits it to one process; ``cookie`` is what ``bpf_usdt_cookie(ctx)`` returns;
    ``specs_map`` is the program's ``__pybpf_usdt_specs`` map when it cannot be found through
    the program (it normally can). Semaphore-guarded probes are enabled while attached.

    Kernel >= 5.15 (BPF cookies), 4.20 for semaphores.

        >>> import pybpf                                                         # doctest: +SKIP
        >>> from pybpf import link  # doctest: +SKIP
        >>> with pybpf.load("queries.bpf.o") as obj:  # doctest: +SKIP
        ...     with link.usdt(obj.programs["on_query"], "/usr/sbin/mysqld", "mysql", "query__start"):
        ...         ...
    """
    sites = probes(binary, provider, name)
    if not sites:
        known = sorted({f"{p.provider}:{p.name}" for p in probes(binary)})
        raise UprobeTargetError(f"{find_library(binary)} has no USDT probe {provider}:{name}"
                                + (f" (it has {', '.join(known[:10])})" if known else " (it has no .note.stapsdt)"))
    owned = specs_map is None
    specs = find_specs_map(prog) if specs_map is None else specs_map
    map_id = specs.id
    slots = _SLOTS.take(map_id, len(sites), specs.max_entries)
    links: list[Link] = []

    def release() -> None:
        for slot in slots:
            try:
                specs[slot] = bytes(specs.value_size)
            except (BPFError, OSError) as exc:  # the map may be gone with its collection
                log.debug("clearing USDT spec slot %d: %s", slot, exc)
        _SLOTS.give_back(map_id, slots)
        if owned:
            specs.close()

    try:
        for slot, site in zip(slots, sites):
            specs[slot] = encode_spec(list(site.args), cookie)
            where = f"usdt {site.path}:{provider}:{name} @{site.address:#x}"
            links.append(attach_offset(prog, site.path, site.offset, pid=pid, cookie=slot,
                                       ref_ctr_offset=site.semaphore_offset, description=where))
    except BaseException:
        for member in links:
            member.close()
        release()
        raise
    label = f"usdt {sites[0].path}:{provider}:{name} ({len(sites)} site{'s' if len(sites) > 1 else ''})"
    group = LinkGroup(links, program=prog, description=label + (f" pid={pid}" if pid is not None else ""))
    group.add_cleanup(release)
    return group


__all__ = ["SPECS_MAP", "UsdtProbe", "find_specs_map", "probes", "usdt"]
