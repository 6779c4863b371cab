"""``struct_ops`` maps: an object's operation table (``struct tcp_congestion_ops ...``) in the
kernel's layout, and the load-time attach data of the programs that implement its members.

For a map whose value type is the local ``struct T`` the kernel knows ``struct T`` and a
wrapper ``struct bpf_struct_ops_T { <common>; struct T data; }``, the map's real value:

* the map is created with ``btf_vmlinux_value_type_id`` = the wrapper's id, value size = its size;
* each program assigned to a function-pointer member is loaded with ``attach_btf_id`` = the id
  of ``struct T`` and ``expected_attach_type`` = the member's index in the kernel's ``struct T``;
* the value (:func:`kernel_value`) holds, at the kernel's member offsets inside ``data``, the
  program fds and the object's data members (matched by name, sizes must agree).

Writing that value (BPF_MAP_UPDATE_ELEM) registers the operations with the kernel: that is
attaching, done by the caller (:attr:`pybpf.collection.Collection.struct_ops` holds the values).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .. import _sys
from ..btf import BTF, FuncProto, Kind, Pointer, Struct
from ..enums import MapType
from ..errors import BPFError, NotSupportedError
from ..spec import MapSpec, ObjectSpec

WRAPPER_PREFIX = "bpf_struct_ops_"


class StructOpsError(BPFError):
    """A struct_ops table does not fit the kernel's definition of its type."""


@dataclass(frozen=True)
class StructOpsLayout:
    """Where one struct_ops map's type lives in the kernel."""

    map_name: str
    type_name: str
    type_id: int  # kernel `struct T`
    wrapper_id: int  # kernel `struct bpf_struct_ops_T`
    value_size: int
    data_offset: int  # of `data` in the wrapper
    member_index: dict[str, int]  # member name -> index in the kernel's struct T


def _struct(btf: BTF, type_id: int) -> Struct:
    t = btf[btf.resolve(type_id)]
    if not isinstance(t, Struct):
        raise StructOpsError(f"type {type_id} is a {t.kind.name}, not a struct")
    return t


def layout(m: MapSpec, local: BTF, kernel: BTF) -> StructOpsLayout:
    """The kernel layout of struct_ops map ``m`` (NotSupportedError when the kernel lacks it)."""
    name = _struct(local, m.value_type_id).name.split("___", 1)[0]
    ids, wrappers = kernel.find(name, Kind.STRUCT), kernel.find(WRAPPER_PREFIX + name, Kind.STRUCT)
    if not ids or not wrappers:
        raise NotSupportedError(
            f"struct_ops type struct {name} (map {m.name!r})",
            reason=f"the kernel BTF has no struct {name if not ids else WRAPPER_PREFIX + name}",
            alternative="check the name, or load the kernel module that provides it (module struct_ops are not supported yet)")
    wrapper = _struct(kernel, wrappers[0])
    data = next((mb for mb in wrapper.members if mb.name == "data"), None)
    if data is None:
        raise StructOpsError(f"struct {WRAPPER_PREFIX}{name} has no 'data' member")
    kstruct = _struct(kernel, ids[0])
    return StructOpsLayout(
        map_name=m.name, type_name=name, type_id=ids[0], wrapper_id=wrappers[0],
        value_size=kernel.size_of(wrappers[0]), data_offset=data.bit_offset // 8,
        member_index={mb.name: i for i, mb in enumerate(kstruct.members)},
    )


def layouts(spec: ObjectSpec, kernel: BTF | Callable[[], BTF]) -> dict[str, StructOpsLayout]:
    """The layout of every struct_ops map of ``spec``."""
    maps = [m for m in spec.maps.values() if m.type == MapType.STRUCT_OPS]
    if not maps:
        return {}
    if spec.btf is None:
        raise StructOpsError("struct_ops maps need the object's BTF; compile with -g")
    kbtf = kernel() if callable(kernel) else kernel
    return {m.name: layout(m, spec.btf, kbtf) for m in maps}


def program_attach(spec: ObjectSpec, found: Mapping[str, StructOpsLayout]) -> dict[str, tuple[int, int]]:
    """Program name -> (attach_btf_id, expected_attach_type) for programs in struct_ops tables."""
    out: dict[str, tuple[int, int]] = {}
    for name, lay in found.items():
        for member, prog in spec.maps[name].struct_ops_programs.items():
            if member not in lay.member_index:
                raise StructOpsError(f"struct_ops map {name!r}: the kernel's struct {lay.type_name} has no "
                                     f"member {member!r} (program {prog!r})")
            wanted = (lay.type_id, lay.member_index[member])
            if out.setdefault(prog, wanted) != wanted:
                raise StructOpsError(f"program {prog!r} implements two different struct_ops members")
    return out


def create_map(m: MapSpec, lay: StructOpsLayout, btf_fd: _sys.FdLike | None) -> _sys.FD:
    """BPF_MAP_CREATE of a struct_ops map in the kernel's layout."""
    if btf_fd is None:
        raise StructOpsError(f"struct_ops map {m.name!r} needs the object's BTF loaded in the kernel")
    return _sys.map_create(MapType.STRUCT_OPS, 4, lay.value_size, 1, flags=m.flags, name=m.name,
                           btf_fd=btf_fd, btf_vmlinux_value_type_id=lay.wrapper_id)


def _is_func_ptr(btf: BTF, type_id: int) -> bool:
    t = btf[btf.resolve(type_id)]
    return isinstance(t, Pointer) and isinstance(btf[btf.resolve(t.type_id)], FuncProto)


def kernel_value(m: MapSpec, lay: StructOpsLayout, local: BTF, kernel: BTF, prog_fds: Mapping[str, int]) -> bytes:
    """The map value that registers ``m``: the object's members at the kernel's offsets."""
    value = bytearray(lay.value_size)
    data = bytes(m.data or b"")
    kmembers = {mb.name: mb for mb in _struct(kernel, lay.type_id).members}
    for mb in _struct(local, m.value_type_id).members:
        off, size = mb.bit_offset // 8, local.size_of(mb.type_id)
        raw = data[off:off + size].ljust(size, b"\0")
        kmb = kmembers.get(mb.name)
        prog = m.struct_ops_programs.get(mb.name)
        if kmb is None:
            if prog or any(raw):
                raise StructOpsError(f"struct_ops map {m.name!r}: the kernel's struct {lay.type_name} has no "
                                     f"member {mb.name!r}")
            continue
        at = lay.data_offset + kmb.bit_offset // 8
        if _is_func_ptr(local, mb.type_id):
            if prog is not None:
                value[at:at + 8] = prog_fds[prog].to_bytes(8, "little")
            continue
        ksize = kernel.size_of(kmb.type_id)
        if ksize != size:
            raise StructOpsError(f"struct_ops map {m.name!r}: member {mb.name!r} is {size} bytes here but "
                                 f"{ksize} in the kernel")
        value[at:at + size] = raw
    return bytes(value)
