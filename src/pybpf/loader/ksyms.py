"""``.ksyms`` externs: kernel variables and kernel functions (kfuncs).

* a typed ``extern const struct rq runqueues __ksym;`` becomes ``ld_imm64 src=BPF_PSEUDO_BTF_ID``
  with the VAR's id in the kernel BTF (and, for a module, the module BTF's fd in the high half);
* an untyped ``extern const void sym __ksym;`` becomes the symbol's address from /proc/kallsyms;
* ``extern void bpf_rcu_read_lock(void) __ksym;`` calls become ``call src=BPF_PSEUDO_KFUNC_CALL``
  with the FUNC's kernel BTF id (``off`` indexing the module BTF fd in ``fd_array``).

Names are looked up in vmlinux first, then in the BTF of loaded modules. A ``__weak`` extern
the kernel lacks resolves to 0 (address) / an unreachable call; a strong one is an error.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from .. import _sys
from ..btf import BTF, Kind, Void, kernel_btf
from ..errors import BPFError, BTFError, SyscallError
from ..spec import ExternKind, ExternSpec

log = logging.getLogger("pybpf.loader")

KALLSYMS = "/proc/kallsyms"


class KsymError(BPFError):
    """A ``__ksym`` extern names something this kernel does not have."""


@dataclass(frozen=True)
class ResolvedKsym:
    """Where an extern points: a BTF id (with the module BTF holding it) or an address."""

    name: str
    kind: ExternKind
    btf_id: int = 0
    module: str = ""  # "" for vmlinux
    address: int = 0
    found: bool = True


@lru_cache(maxsize=1)
def kallsyms() -> dict[str, int]:
    """Symbol -> address from /proc/kallsyms (addresses are 0 without CAP_SYSLOG)."""
    out: dict[str, int] = {}
    try:
        with open(KALLSYMS, encoding="ascii", errors="replace") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3:
                    out.setdefault(parts[2], int(parts[0], 16))
    except OSError as exc:
        log.debug("cannot read %s: %s", KALLSYMS, exc)
    return out


def _module_names() -> list[str]:
    try:
        return sorted(n for n in os.listdir("/sys/kernel/btf") if n != "vmlinux")
    except OSError:
        return []


@dataclass
class KsymResolver:
    """Resolves the ksym/kfunc externs of one object; owns module BTF fds it opened."""

    vmlinux: BTF
    module_btf: Callable[[str], BTF] | None = None
    symbols: Callable[[], Mapping[str, int]] = kallsyms
    module_fds: dict[str, _sys.FD] = field(default_factory=dict)

    def _lookup(self, name: str, kind: Kind) -> tuple[int, str] | None:
        ids = self.vmlinux.find(name, kind)
        if ids:
            return ids[0], ""
        if self.module_btf is None:
            return None
        for module in _module_names():
            try:
                btf = self.module_btf(module)
            except BTFError:
                continue
            ids = [i for i in btf.find(name, kind) if i >= btf.type_id_start]
            if ids:
                return ids[0], module
        return None

    def resolve(self, ext: ExternSpec, local: BTF) -> ResolvedKsym:
        """Resolve one KSYM or KFUNC extern (see the module docstring)."""
        if ext.kind == ExternKind.KFUNC:
            hit = self._lookup(ext.name, Kind.FUNC)
            what = "kernel function"
        elif isinstance(local[local.resolve(ext.type_id)], Void):
            addr = self.symbols().get(ext.name)
            if addr is None:
                return self._missing(ext, "kernel symbol", "it is not in /proc/kallsyms")
            return ResolvedKsym(ext.name, ext.kind, address=addr)
        else:
            hit = self._lookup(ext.name, Kind.VAR)
            what = "kernel variable"
        if hit is None:
            return self._missing(ext, what, "the kernel BTF has no such name")
        return ResolvedKsym(ext.name, ext.kind, btf_id=hit[0], module=hit[1])

    def _missing(self, ext: ExternSpec, what: str, why: str) -> ResolvedKsym:
        if ext.weak:
            log.info("weak extern %s %r not found (%s); it resolves to 0", what, ext.name, why)
            return ResolvedKsym(ext.name, ext.kind, found=False)
        raise KsymError(f"extern {what} {ext.name!r} cannot be resolved: {why}; this kernel lacks it "
                        "(declare it __weak and test it for NULL before use, or drop it)")

    def module_fd(self, module: str) -> _sys.FD:
        """An fd of the loaded BTF object of ``module`` (opened once, closed by :meth:`close`)."""
        fd = self.module_fds.get(module)
        if fd is not None:
            return fd
        for btf_id in _sys.iter_ids(_sys.ObjectKind.BTF):
            try:
                cand = _sys.get_fd_by_id(_sys.ObjectKind.BTF, btf_id)
            except SyscallError:
                continue
            info = _sys.btf_info(cand, data=False)
            if info.info.kernel_btf and info.name == module:
                self.module_fds[module] = cand
                return cand
            cand.close()
        raise KsymError(f"the BTF of kernel module {module!r} is not loaded in the kernel")

    def close(self) -> None:
        for fd in self.module_fds.values():
            fd.close()
        self.module_fds.clear()


def resolve_all(externs: Mapping[str, ExternSpec], local: BTF | None,
                resolver: KsymResolver) -> dict[str, ResolvedKsym]:
    """Every KSYM/KFUNC extern of an object, resolved."""
    out: dict[str, ResolvedKsym] = {}
    for ext in externs.values():
        if ext.kind in (ExternKind.KSYM, ExternKind.KFUNC):
            if local is None:
                raise KsymError(f"extern {ext.name!r} needs the object's BTF to be resolved")
            out[ext.name] = resolver.resolve(ext, local)
    return out


def default_resolver() -> KsymResolver:
    from ..btf import module_btf

    return KsymResolver(kernel_btf(), module_btf)


__all__ = ["KsymError", "KsymResolver", "ResolvedKsym", "default_resolver", "kallsyms", "resolve_all"]
