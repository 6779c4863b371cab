"""``MapInfo``: what the kernel reports about a map; reading a map's BTF back from the kernel."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .. import _sys
from .._log import get_logger
from .._sys import FdLike, ObjectKind
from ..enums import MapFlags, MapType
from ..errors import BTFError, SyscallError

if TYPE_CHECKING:
    from ..btf import BTF

log = get_logger("pybpf.map")


@dataclass(frozen=True)
class MapInfo:
    """What the kernel reports about a map (``bpf_map_info``)."""

    id: int
    name: str
    type: MapType
    key_size: int
    value_size: int
    max_entries: int
    flags: MapFlags
    btf_id: int
    btf_key_type_id: int
    btf_value_type_id: int
    map_extra: int
    ifindex: int

    @classmethod
    def from_fd(cls, fd: FdLike) -> MapInfo:
        raw = _sys.map_info(fd)
        try:
            map_type = MapType(raw.type)
        except ValueError:
            map_type = MapType.UNSPEC
        return cls(
            id=raw.id, name=raw.name.decode(errors="replace"), type=map_type, key_size=raw.key_size,
            value_size=raw.value_size, max_entries=raw.max_entries, flags=MapFlags(raw.map_flags),
            btf_id=raw.btf_id, btf_key_type_id=raw.btf_key_type_id,
            btf_value_type_id=raw.btf_value_type_id, map_extra=raw.map_extra, ifindex=raw.ifindex,
        )


def kernel_btf_of(btf_id: int) -> BTF | None:
    """The BTF object the kernel holds as ``btf_id`` (None if it cannot be read or parsed)."""
    from ..btf import BTF

    try:
        with _sys.get_fd_by_id(ObjectKind.BTF, btf_id) as fd:
            data = _sys.btf_info(fd).data
        return BTF.from_bytes(data)
    except (SyscallError, BTFError) as exc:
        log.debug("map BTF %d not usable, values stay raw: %s", btf_id, exc)
        return None
