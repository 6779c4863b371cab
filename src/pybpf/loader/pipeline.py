"""The staged load pipeline (libbpf's order), from an :class:`~pybpf.spec.ObjectSpec` to a
:class:`~pybpf.collection.Collection`:

1. externs: ``.kconfig`` values (:mod:`.kconfig`), ``.ksyms`` BTF ids / addresses (:mod:`.ksyms`);
2. the object's BTF sanitised for this kernel (:mod:`.btf_sanitize`) and loaded (BPF_BTF_LOAD);
3. maps created through :meth:`pybpf.map.Map.from_spec` (map-in-map templates, global data,
   frozen ``.rodata``, pins); struct_ops maps in the kernel's layout (:mod:`.struct_ops`);
4. each program CO-RE relocated and patched (:mod:`.relocate`), then loaded (:mod:`.programs`);
5. map slots that name programs or maps (prog arrays, map-in-map) filled; struct_ops values
   built (registering them is attaching, left to the caller).

Whatever fails, everything created so far is closed before the error propagates, so a failed
load leaves nothing behind in the kernel. The spec is not modified.

A spec whose BTF was prepared earlier (:mod:`.prepared`: stage 2's result and the packed
func/line info, kept by a cache) loads with ``prepared_btf=``, without importing :mod:`pybpf.btf`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple

from .. import _sys
from .._log import get_logger
from ..enums import MapType, ProgramType
from ..errors import BPFError, BTFLoadError
from ..map import Map
from ..program import Program
from ..spec import ExternKind, ObjectSpec
from .programs import load_program
from .relocate import RelocationContext, relocate

if TYPE_CHECKING:
    from ..btf import BTF
    from .btf_sanitize import BTFFeature
    from .prepared import PreparedBTF
    from .ksyms import KsymResolver, ResolvedKsym
    from .struct_ops import StructOpsLayout

# struct_ops, .kconfig and .ksyms support is imported by the objects that use it (most do not):
# start-up of a small loader (pybpf trace) does not pay for it

log = get_logger("pybpf.loader")


class Loaded(NamedTuple):
    """What :func:`load_spec` made."""

    programs: dict[str, Program]
    maps: dict[str, Map]
    #: struct_ops map name -> the value whose BPF_MAP_UPDATE_ELEM registers it (see .struct_ops)
    struct_ops: dict[str, bytes]


def _needs_btf(spec: ObjectSpec) -> bool:
    """Whether the object cannot load without its BTF in the kernel (kfuncs, global functions)."""
    return any(e.kind == ExternKind.KFUNC for e in spec.externs.values())


def _kernel_btf() -> BTF:
    from ..btf import kernel_btf  # only loads that read kernel types (CO-RE, attach targets, struct_ops)

    return kernel_btf()


def _load_btf(spec: ObjectSpec, features: frozenset[BTFFeature] | None,
              prepared: PreparedBTF | None = None) -> tuple[BTF | None, _sys.FD | None]:
    if prepared is not None:
        blob: bytes = prepared.blob
        sanitized = None
    elif spec.btf is None:
        return None, None
    else:
        from .btf_sanitize import probe_features, sanitized_blob

        sanitized, blob = sanitized_blob(spec.btf, probe_features() if features is None else features)
    try:
        return sanitized, _sys.btf_load(blob).fd
    except BTFLoadError as exc:
        if _needs_btf(spec):
            raise
        log.warning("%s: the kernel refused the object's BTF; loading without it (no BTF map types, "
                    "func or line info): %s", spec.path or "object", exc)
        return None, None


def load_spec(
    spec: ObjectSpec,
    *,
    btf: BTF | None = None,
    pin_path: str | os.PathLike[str] | None = None,
    log_level: int = 0,
    kconfig: Mapping[str, object] | None = None,
    features: frozenset[BTFFeature] | None = None,
    resolver: KsymResolver | None = None,
    prepared_btf: PreparedBTF | None = None,
) -> Loaded:
    """Run the pipeline; returns the loaded programs, created maps and struct_ops values by name.

    ``prepared_btf``: the object's BTF as :func:`pybpf.loader.prepared.prepare_btf` kept it, for
    the spec it returned (which holds no BTF); stage 2 then loads that blob as it is.
    """
    if prepared_btf is not None and spec.btf is not None:
        raise BPFError("prepared_btf= is for the spec prepare_btf() returned, which has no BTF of its own")
    kernel: Callable[[], BTF] = lru_cache(maxsize=1)(_kernel_btf)
    target: BTF | Callable[[], BTF] = btf if btf is not None else kernel
    ops: dict[str, StructOpsLayout] = {}
    ops_attach: dict[str, tuple[int, int]] = {}
    if any(m.type == MapType.STRUCT_OPS for m in spec.maps.values()):
        from . import struct_ops

        ops = struct_ops.layouts(spec, kernel)  # before anything is created
        ops_attach = struct_ops.program_attach(spec, ops)

    # 1. externs
    ksym_resolver = None
    ksyms: dict[str, ResolvedKsym] = {}
    if any(e.kind in (ExternKind.KSYM, ExternKind.KFUNC) for e in spec.externs.values()):
        from .ksyms import default_resolver, resolve_all

        ksym_resolver = resolver or default_resolver()
        ksyms = resolve_all(spec.externs, spec.btf, ksym_resolver)
    kconfig_name = next((n for n, m in spec.maps.items() if m.section == ".kconfig"), "")
    map_specs = dict(spec.maps)
    if kconfig_name:
        from .kconfig import fill_kconfig

        if spec.btf is None:
            raise BPFError("the object has __kconfig externs but no BTF; compile it with -g")
        map_specs[kconfig_name] = fill_kconfig(spec.maps[kconfig_name], spec.externs, spec.btf, overrides=kconfig)

    programs: dict[str, Program] = {}
    maps: dict[str, Map] = {}
    btf_fd: _sys.FD | None = None
    reused: set[str] = set()  # maps that were pinned before this load
    ops_values: dict[str, bytes] = {}
    try:
        # 2. BTF
        loaded_btf, btf_fd = _load_btf(spec, features, prepared_btf)
        # 3. maps
        for name, mspec in map_specs.items():
            if pin_path is not None and os.path.exists(os.path.join(os.fspath(pin_path), mspec.name)):
                reused.add(name)
            if name in ops:
                lay = ops[name]
                fd = struct_ops.create_map(mspec, lay, btf_fd)
                maps[name] = Map(fd, MapType.STRUCT_OPS, 4, lay.value_size, 1, flags=mspec.flags, name=name)
                continue
            maps[name] = Map.from_spec(mspec, btf=spec.btf, btf_fd=btf_fd, pin_path=pin_path)
        # 4. programs
        ctx = RelocationContext(
            map_fds={n: m.fileno() for n, m in maps.items()}, kconfig_map=kconfig_name, ksyms=ksyms,
            module_fd=(lambda mod: ksym_resolver.module_fd(mod).fileno()) if ksym_resolver else (lambda mod: 0),
        )
        for name, pspec in spec.programs.items():
            if pspec.type == ProgramType.STRUCT_OPS and name not in ops_attach:
                log.info("struct_ops program %s is in no struct_ops map: not loaded (as libbpf does)", name)
                continue
            insns = relocate(pspec, ctx, local=spec.btf, target=target)
            programs[name] = load_program(
                pspec, insns, license=spec.license, btf=loaded_btf, btf_fd=btf_fd, kernel=kernel,
                fd_array=ctx.fd_array, log_level=log_level, attach=ops_attach.get(name),
                packed_info=((prepared_btf.func_info.get(name, b""), prepared_btf.line_info.get(name, b""))
                             if prepared_btf is not None else None))
        # 5. slots naming programs and maps
        for name, mspec in spec.maps.items():
            named = {k: v for k, v in mspec.contents.items() if isinstance(v, str)}
            if named:
                pool: Mapping[str, object] = maps if mspec.inner_map is not None else programs
                maps[name].load_contents(named, resolve=pool.__getitem__)
        if ops:
            assert spec.btf is not None
            fds = {n: p.fileno() for n, p in programs.items()}
            ops_values = {n: struct_ops.kernel_value(spec.maps[n], lay, spec.btf, kernel(), fds)
                          for n, lay in ops.items()}
    except BaseException:
        _undo(programs, maps, reused)
        raise
    finally:
        if btf_fd is not None:
            btf_fd.close()
        if ksym_resolver is not None:
            ksym_resolver.close()
    return Loaded(programs, maps, ops_values)


def _undo(programs: Mapping[str, Program], maps: Mapping[str, Map], reused: set[str]) -> None:
    """Close what a failed load created and remove the pins it made."""
    for prog in programs.values():
        prog.close()
    for name, m in maps.items():
        if m.pinned_path and name not in reused:
            try:
                os.unlink(m.pinned_path)
            except OSError as exc:
                log.warning("cannot remove the pin %s of a failed load: %s", m.pinned_path, exc)
        m.close()
