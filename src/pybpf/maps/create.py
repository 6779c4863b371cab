"""Creating a live map from a :class:`~pybpf.spec.MapSpec`: BTF types, initial data, pinning."""

from __future__ import annotations

import dataclasses
import errno
import os
from typing import TYPE_CHECKING, TypeVar

from .. import _sys
from .._log import get_logger
from .._sys import FD, FdLike
from ..enums import MapFlags, MapType, PinType
from ..errors import BPFError, PinMismatchError, SyscallError
from .kinds import kind_of

if TYPE_CHECKING:
    from ..btf import BTF
    from ..map import Map
    from ..spec import MapSpec
    from .info import MapInfo

log = get_logger("pybpf.map")

_M = TypeVar("_M", bound="Map")


def pin_mismatches(info: MapInfo, spec: MapSpec) -> dict[str, tuple[object, object]]:
    """The properties where a pinned map (``info``) differs from ``spec``: ``name -> (pinned, wanted)``."""
    pinned = {
        "type": info.type.name, "key_size": info.key_size, "value_size": info.value_size,
        "max_entries": info.max_entries, "flags": info.flags,
    }
    wanted = {
        "type": spec.type.name, "key_size": spec.key_size, "value_size": spec.value_size,
        "max_entries": spec.max_entries, "flags": MapFlags(spec.flags),
    }
    if spec.map_extra:
        pinned["map_extra"], wanted["map_extra"] = info.map_extra, spec.map_extra
    return {k: (pinned[k], wanted[k]) for k in wanted if pinned[k] != wanted[k]}


def _reuse_pinned(cls: type[_M], path: str, spec: MapSpec, btf: BTF | None) -> _M | None:
    """The map pinned at ``path`` if there is one and it matches ``spec``; None if nothing is pinned."""
    from .info import MapInfo

    try:
        fd = _sys.obj_get(path, kind="map")
    except SyscallError as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise
    try:
        info = MapInfo.from_fd(fd)
        mismatches = pin_mismatches(info, spec)
        if mismatches:
            raise PinMismatchError(path, mismatches)
    except BaseException:
        fd.close()
        raise
    log.debug("reusing the %s map pinned at %s (id %d)", info.type.name, path, info.id)
    typed = btf is not None and (spec.key_type_id or spec.value_type_id)
    m = cls(
        fd, spec.type, spec.key_size, spec.value_size, spec.max_entries, flags=spec.flags, name=spec.name,
        btf=btf if typed else None, key_type_id=spec.key_type_id if typed else 0,
        value_type_id=spec.value_type_id if typed else 0, map_id=info.id,
    )
    m.pinned_path = path
    return m


def with_kernel_defaults(spec: MapSpec) -> MapSpec:
    """``spec`` with the sizes libbpf fills in when an object leaves them out.

    A PERF_EVENT_ARRAY declared without ``max_entries`` gets one slot per possible CPU.
    """
    if spec.type == MapType.PERF_EVENT_ARRAY and spec.max_entries == 0:
        return dataclasses.replace(spec, max_entries=_sys.possible_cpus())
    return spec


def map_from_spec(
    cls: type[_M],
    spec: MapSpec,
    *,
    btf: BTF | None,
    btf_fd: FdLike | None,
    inner_map_fd: FdLike | None,
    pin_path: str | os.PathLike[str] | None,
) -> _M:
    """See :meth:`pybpf.map.Map.from_spec`."""
    spec = with_kernel_defaults(spec)
    path = None
    if spec.pinning == PinType.BY_NAME and pin_path is not None:
        path = os.path.join(os.fspath(pin_path), spec.name)
        reused = _reuse_pinned(cls, path, spec, btf)
        if reused is not None:
            return reused

    template = None
    if spec.inner_map is not None and inner_map_fd is None:
        template = map_from_spec(cls, spec.inner_map, btf=btf, btf_fd=btf_fd, inner_map_fd=None, pin_path=None)
        inner_map_fd = template.fd
    try:
        fd = create_fd(
            spec.type, spec.key_size, spec.value_size, spec.max_entries, flags=spec.flags, name=spec.name,
            inner_map_fd=inner_map_fd, map_extra=spec.map_extra, numa_node=spec.numa_node, btf_fd=btf_fd,
            key_type_id=spec.key_type_id, value_type_id=spec.value_type_id,
        )
    finally:
        if template is not None:
            template.close()  # the kernel copied what it needs from the template
    typed = btf is not None and (spec.key_type_id or spec.value_type_id)
    m = cls(
        fd, spec.type, spec.key_size, spec.value_size, spec.max_entries, flags=spec.flags, name=spec.name,
        btf=btf if typed else None, key_type_id=spec.key_type_id if typed else 0,
        value_type_id=spec.value_type_id if typed else 0,
    )
    try:
        _initialise(m, spec)
        if path is not None:
            m.pin(path)
    except BaseException:
        m.close()
        raise
    return m


def _initialise(m: Map, spec: MapSpec) -> None:
    """Write ``spec.data`` (then freeze) and the byte-valued ``spec.contents``."""
    if spec.data is not None:
        data = bytes(spec.data)
        if len(data) != spec.value_size:
            data = data.ljust(spec.value_size, b"\0")[: spec.value_size]
        if any(data):  # the kernel zero-fills: only non-zero data needs writing
            _sys.map_update_elem(m.fd, bytes(spec.key_size), data)
    raw = {k: v for k, v in spec.contents.items() if isinstance(v, (bytes, bytearray))}
    if raw:
        m.load_contents(raw)
    if spec.freeze:
        m.freeze()


def type_id_of(btf: BTF | None, t: int | str) -> int:
    if isinstance(t, int):
        return t
    if btf is None:
        raise BPFError(f"type {t!r} is named but no btf= was given")
    return btf.find_one(t)


def required(what: str, map_type: MapType) -> int:
    raise BPFError(f"Map.create({map_type.name}) needs {what} (or a BTF type to take it from)")


def create_fd(
    map_type: MapType, key_size: int, value_size: int, max_entries: int, *, flags: MapFlags, name: str,
    inner_map_fd: FdLike | None, map_extra: int, numa_node: int, btf_fd: FdLike | None, key_type_id: int,
    value_type_id: int,
) -> FD:
    """BPF_MAP_CREATE; BTF type ids are dropped for map types that refuse them, and on EINVAL retried without."""
    kind = kind_of(map_type)
    use_btf = btf_fd is not None and (key_type_id or value_type_id) and not kind.no_btf

    def create(with_btf: bool) -> FD:
        return _sys.map_create(
            map_type, key_size, value_size, max_entries, flags=flags, name=name, inner_map_fd=inner_map_fd,
            numa_node=numa_node, map_extra=map_extra, btf_fd=btf_fd if with_btf else None,
            btf_key_type_id=key_type_id if with_btf else 0, btf_value_type_id=value_type_id if with_btf else 0,
        )

    if not use_btf:
        return create(False)
    try:
        return create(True)
    except SyscallError as exc:
        if exc.errno != errno.EINVAL:
            raise
        log.debug("creating %s map %r with BTF types failed (%s); retrying without", map_type.name, name, exc)
        return create(False)
