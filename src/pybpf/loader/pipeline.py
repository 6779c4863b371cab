"""The staged load pipeline (libbpf's order), from an :class:`~pybpf.spec.ObjectSpec` to a
:class:`~pybpf.collection.Collection`:

1. externs: ``.kconfig`` values (:mod:`.kconfig`), ``.ksyms`` BTF ids / addresses (:mod:`.ksyms`);
2. the object's BTF sanitised for this kernel (:mod:`.btf_sanitize`) and loaded (BPF_BTF_LOAD);
3. maps created through :meth:`pybpf.map.Map.from_spec` (map-in-map templates, global data,
   frozen ``.rodata``, pins);
4. each program CO-RE relocated and patched (:mod:`.relocate`), then loaded (:mod:`.programs`);
5. map slots that name programs or maps (prog arrays, map-in-map) filled.

Whatever fails, everything created so far is closed before the error propagates, so a failed
load leaves nothing behind in the kernel. The spec is not modified.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from functools import lru_cache

from .. import _sys
from ..btf import BTF, kernel_btf
from ..errors import BPFError, BTFLoadError
from ..map import Map
from ..program import Program
from ..spec import ExternKind, ObjectSpec
from .attach import check_maps_loadable
from .btf_sanitize import BTFFeature, probe_features, sanitized_blob
from .kconfig import fill_kconfig
from .ksyms import KsymResolver, default_resolver, resolve_all
from .programs import load_program
from .relocate import RelocationContext, relocate

log = logging.getLogger("pybpf.loader")


def _needs_btf(spec: ObjectSpec) -> bool:
    """Whether the object cannot load without its BTF in the kernel (kfuncs, global functions)."""
    return any(e.kind == ExternKind.KFUNC for e in spec.externs.values())


def _load_btf(spec: ObjectSpec, features: frozenset[BTFFeature] | None) -> tuple[BTF | None, _sys.FD | None]:
    if spec.btf is None:
        return None, None
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
) -> tuple[dict[str, Program], dict[str, Map]]:
    """Run the pipeline; returns the loaded programs and created maps by name."""
    check_maps_loadable(spec.maps)  # before anything is created
    kernel: Callable[[], BTF] = lru_cache(maxsize=1)(kernel_btf)
    target: BTF | Callable[[], BTF] = btf if btf is not None else kernel

    # 1. externs
    ksym_resolver = None
    if any(e.kind in (ExternKind.KSYM, ExternKind.KFUNC) for e in spec.externs.values()):
        ksym_resolver = resolver or default_resolver()
    ksyms = resolve_all(spec.externs, spec.btf, ksym_resolver) if ksym_resolver else {}
    kconfig_name = next((n for n, m in spec.maps.items() if m.section == ".kconfig"), "")
    map_specs = dict(spec.maps)
    if kconfig_name:
        if spec.btf is None:
            raise BPFError("the object has __kconfig externs but no BTF; compile it with -g")
        map_specs[kconfig_name] = fill_kconfig(spec.maps[kconfig_name], spec.externs, spec.btf, overrides=kconfig)

    programs: dict[str, Program] = {}
    maps: dict[str, Map] = {}
    btf_fd: _sys.FD | None = None
    reused: set[str] = set()  # maps that were pinned before this load
    try:
        # 2. BTF
        loaded_btf, btf_fd = _load_btf(spec, features)
        # 3. maps
        for name, mspec in map_specs.items():
            if pin_path is not None and os.path.exists(os.path.join(os.fspath(pin_path), mspec.name)):
                reused.add(name)
            maps[name] = Map.from_spec(mspec, btf=spec.btf, btf_fd=btf_fd, pin_path=pin_path)
        # 4. programs
        ctx = RelocationContext(
            map_fds={n: m.fileno() for n, m in maps.items()}, kconfig_map=kconfig_name, ksyms=ksyms,
            module_fd=(lambda mod: ksym_resolver.module_fd(mod).fileno()) if ksym_resolver else (lambda mod: 0),
        )
        for name, pspec in spec.programs.items():
            insns = relocate(pspec, ctx, local=spec.btf, target=target)
            programs[name] = load_program(
                pspec, insns, license=spec.license, btf=loaded_btf, btf_fd=btf_fd, kernel=kernel,
                fd_array=ctx.fd_array, log_level=log_level)
        # 5. slots naming programs and maps
        for name, mspec in spec.maps.items():
            named = {k: v for k, v in mspec.contents.items() if isinstance(v, str)}
            if named:
                pool: Mapping[str, object] = maps if mspec.inner_map is not None else programs
                maps[name].load_contents(named, resolve=pool.__getitem__)
    except BaseException:
        _undo(programs, maps, reused)
        raise
    finally:
        if btf_fd is not None:
            btf_fd.close()
        if ksym_resolver is not None:
            ksym_resolver.close()
    return programs, maps


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
