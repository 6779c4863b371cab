"""Loading an :class:`~pybpf.spec.ObjectSpec` into the VM: maps, relocations, CO-RE, programs."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ..enums import MapFlags
from ..errors import BPFError, BTFError
from ..loader.kconfig import fill_kconfig
from ..loader.ksyms import ResolvedKsym
from ..loader.relocate import RelocationContext, relocate
from ..spec import ExternKind, ObjectSpec
from .maps import ArrayMap, create_map
from .program import VMProgram
from .runtime import Runtime

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ..btf import BTF
    from ..spec import MapSpec
    from .maps import VMMap

log = logging.getLogger("pybpf.vm.loader")

__all__ = ["create_maps", "load_programs", "core_target"]


def core_target(spec: ObjectSpec, btf: BTF | None) -> BTF | None:
    """What CO-RE relocates against: ``btf`` if given, the running kernel's BTF when readable,
    else the object's own BTF."""
    if btf is not None:
        return btf
    try:
        from ..btf.kernel import kernel_btf

        return kernel_btf()
    except (OSError, BTFError, BPFError) as exc:
        log.info("kernel BTF unavailable (%s); CO-RE relocates against the object's own BTF", exc)
        return spec.btf


def _make_map(rt: Runtime, ms: MapSpec, spec: ObjectSpec) -> VMMap:
    flags = MapFlags(ms.flags)
    if ms.freeze:
        flags |= MapFlags.RDONLY_PROG
    handle = rt.new_handle()
    m = create_map(rt.memory, handle, ms.type, ms.key_size, ms.value_size, ms.max_entries, flags=flags,
                   name=ms.name, btf=spec.btf if (ms.key_type_id or ms.value_type_id) else None,
                   key_type_id=ms.key_type_id, value_type_id=ms.value_type_id, ncpus=rt.ncpus,
                   **({"resolve": rt.resolve_handle} if ms.type.name in ("PROG_ARRAY", "ARRAY_OF_MAPS",
                                                                         "HASH_OF_MAPS") else {}))
    rt.maps[handle] = m
    if ms.data is not None and isinstance(m, ArrayMap):
        rt.memory.bufs  # noqa: B018 - regions are created lazily by value_address
        region_addr = m.value_address(0)
        rt.memory.region_of(region_addr).buf[:len(ms.data)] = bytes(ms.data)  # type: ignore[union-attr]
    return m


def create_maps(rt: Runtime, spec: ObjectSpec, *, kconfig: Mapping[str, object] | None = None) -> dict[str, VMMap]:
    """Every map of ``spec`` as a VM map (global data written; slots naming programs left for later).

    ``__kconfig`` externs get the running kernel's configuration, as the kernel loader gives
    them, overridden by ``kconfig`` (a machine without one needs every strong extern there)."""
    maps: dict[str, VMMap] = {}
    for name, ms in spec.maps.items():
        if ms.section == ".kconfig":
            if spec.btf is None:
                raise BPFError("the object has __kconfig externs but no BTF; compile it with -g")
            ms = fill_kconfig(ms, spec.externs, spec.btf, overrides=kconfig)
        maps[name] = _make_map(rt, ms, spec)
    for name, ms in spec.maps.items():
        for key, value in ms.contents.items():
            if isinstance(value, bytes):
                maps[name].raw_set(int(key).to_bytes(maps[name].key_size, "little"), value, 0)
            elif value in maps:
                maps[name][key] = maps[value]
    return maps


def load_programs(rt: Runtime, spec: ObjectSpec, maps: dict[str, VMMap], *, btf: BTF | None = None) -> dict[str, VMProgram]:
    """Relocate (CO-RE, maps as handles) and register every program of ``spec``."""
    kconfig = next((n for n, m in spec.maps.items() if m.section == ".kconfig"), "")
    # __ksym variables and kfuncs get an id of the runtime's extern table where the kernel would
    # have a BTF id; the runtime resolves them by name when the program is compiled (its ksyms,
    # its registered and built-in kfuncs), so they can be given after loading
    ksyms = {name: ResolvedKsym(name, ext.kind, btf_id=rt.extern_id(ext)) for name, ext in spec.externs.items()
             if ext.kind in (ExternKind.KSYM, ExternKind.KFUNC)}
    ctx = RelocationContext(map_fds={n: m.handle for n, m in maps.items()}, kconfig_map=kconfig, ksyms=ksyms)
    target: Any = None
    if any(p.core_relocations for p in spec.programs.values()):
        target = core_target(spec, btf)
    programs: dict[str, VMProgram] = {}
    for name, ps in spec.programs.items():
        insns = relocate(ps, ctx, local=spec.btf, target=target)
        programs[name] = VMProgram(rt, name, ps.type, insns, spec=ps)
    for name, ms in spec.maps.items():  # prog arrays naming programs
        for key, value in ms.contents.items():
            if isinstance(value, str) and value in programs:
                maps[name][key] = programs[value]
    return programs
