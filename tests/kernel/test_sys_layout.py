"""Every ctypes layout in pybpf._sys matches the running kernel's BTF.

The kernel's own description of ``union bpf_attr``, ``struct bpf_*_info`` and
``struct perf_event_attr`` is read with ``bpftool btf dump ... format raw`` (an independent
tool, not our BTF parser), flattened to ``name -> (bit offset, bit size)``, and compared
with ctypes' offsets for each structure we declare.
"""

from __future__ import annotations

import ctypes
import functools
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pybpf._sys import attrs, info, perf_attr

VMLINUX = Path("/sys/kernel/btf/vmlinux")

_TYPE = re.compile(r"^\[(\d+)\] (\w+) '([^']*)'(.*)$")
_MEMBER = re.compile(r"^\t'([^']*)' type_id=(\d+) bits_offset=(\d+)(?: bitfield_size=(\d+))?")
_KV = re.compile(r"(\w+)=(\S+)")


@dataclass
class RawType:
    kind: str
    name: str
    props: dict[str, str]
    members: list[tuple[str, int, int, int]] = field(default_factory=list)  # name, type, bit off, bitfield


@functools.cache
def kernel_types() -> dict[int, RawType]:
    bpftool = shutil.which("bpftool")
    if bpftool is None or not VMLINUX.exists():
        pytest.fail("layout check needs bpftool and /sys/kernel/btf/vmlinux (CONFIG_DEBUG_INFO_BTF)")
    out = subprocess.run(
        [bpftool, "btf", "dump", "file", str(VMLINUX), "format", "raw"],
        check=True, capture_output=True, text=True,
    ).stdout
    types: dict[int, RawType] = {}
    current: RawType | None = None
    for line in out.splitlines():
        if m := _TYPE.match(line):
            current = RawType(m[2], m[3], dict(_KV.findall(m[4])))
            types[int(m[1])] = current
        elif (m := _MEMBER.match(line)) and current is not None and current.kind in ("STRUCT", "UNION"):
            current.members.append((m[1], int(m[2]), int(m[3]), int(m[4] or 0)))
    return types


_MODIFIERS = {"TYPEDEF", "CONST", "VOLATILE", "RESTRICT", "TYPE_TAG"}


def resolve(tid: int) -> RawType:
    t = kernel_types()[tid]
    while t.kind in _MODIFIERS:
        t = kernel_types()[int(t.props["type_id"])]
    return t


def size_of(tid: int) -> int:
    t = resolve(tid)
    if t.kind == "ARRAY":
        return int(t.props["nr_elems"]) * size_of(int(t.props["type_id"]))
    if t.kind == "PTR":
        return 8
    return int(t.props["size"])


Layout = dict[str, tuple[int, int]]


def btf_flatten(t: RawType, prefix: str = "", base: int = 0) -> Layout:
    out: Layout = {}
    for name, tid, bits, bitfield in t.members:
        r = resolve(tid)
        if r.kind in ("STRUCT", "UNION"):
            out.update(btf_flatten(r, prefix if name == "(anon)" else f"{prefix}{name}.", base + bits))
        else:
            out[prefix + name] = (base + bits, bitfield or size_of(tid) * 8)
    return out


def ctypes_flatten(cls: type, prefix: str = "", base: int = 0) -> Layout:
    out: Layout = {}
    anonymous = set(getattr(cls, "_anonymous_", ()))
    for spec in cls._fields_:  # type: ignore[attr-defined]
        name, ftype = spec[0], spec[1]
        desc = getattr(cls, name)
        bit = base + desc.offset * 8
        if isinstance(ftype, type) and issubclass(ftype, (ctypes.Structure, ctypes.Union)):
            out.update(ctypes_flatten(ftype, prefix if name in anonymous else f"{prefix}{name}.", bit))
        elif len(spec) == 3:  # bitfield
            if hasattr(desc, "bit_size"):
                out[prefix + name] = (bit + desc.bit_offset, desc.bit_size)
            else:
                out[prefix + name] = (bit + (desc.size & 0xFFFF), desc.size >> 16)
        else:
            out[prefix + name] = (bit, ctypes.sizeof(ftype) * 8)
    return out


def find_struct(name: str) -> RawType:
    found = [t for t in kernel_types().values() if t.kind in ("STRUCT", "UNION") and t.name == name]
    assert len(found) == 1, f"{name}: {len(found)} definitions in vmlinux BTF"
    return found[0]


def bpf_attr_member(spec: str) -> RawType:
    """The member of ``union bpf_attr`` named ``spec`` ("batch" or "(anon:<field>)")."""
    union = find_struct("bpf_attr")
    candidates = []
    for name, tid, _bits, _bf in union.members:
        r = resolve(tid)
        if spec.startswith("(anon:"):
            if name == "(anon)" and spec[6:-1] in btf_flatten(r):
                candidates.append(r)
        elif name == spec:
            candidates.append(r)
    assert len(candidates) == 1, f"union bpf_attr member {spec}: {len(candidates)} matches"
    return candidates[0]


def compare(ours: type, theirs: RawType) -> None:
    mine, kernel = ctypes_flatten(ours), btf_flatten(theirs)
    problems = [
        f"{name}: ctypes (bit offset, bits) {where}, kernel {kernel.get(name, 'missing')}"
        for name, where in mine.items()
        if kernel.get(name) != where
    ]
    end = ctypes.sizeof(ours) * 8
    problems += [
        f"{name}: in the kernel at bit {where[0]} but not declared"
        for name, where in kernel.items()
        if where[0] < end and name not in mine
    ]
    assert not problems, f"{ours.__name__} differs from the kernel:\n" + "\n".join(problems)


@pytest.mark.parametrize("cls", attrs.ALL_ATTRS, ids=lambda c: c.__name__)
def test_bpf_attr_layouts_match_kernel_btf(cls: type[attrs.Attr]) -> None:
    compare(cls, bpf_attr_member(cls.BTF_MEMBER))


@pytest.mark.parametrize("cls", [*info.ALL_INFOS, perf_attr.PerfEventAttr], ids=lambda c: c.__name__)
def test_info_and_perf_layouts_match_kernel_btf(cls: type) -> None:
    compare(cls, find_struct(cls.BTF_STRUCT))  # type: ignore[attr-defined]


def test_attrs_fit_in_the_kernels_union() -> None:
    union_size = int(find_struct("bpf_attr").props["size"])
    assert all(ctypes.sizeof(cls) <= union_size for cls in attrs.ALL_ATTRS)


def test_the_check_can_fail() -> None:
    """A deliberately wrong layout is reported (guards against a comparison that passes anything)."""

    class Wrong(ctypes.Structure):
        _fields_ = [("map_fd", ctypes.c_uint32), ("key", ctypes.c_uint32)]

    with pytest.raises(AssertionError, match="key"):
        compare(Wrong, bpf_attr_member("(anon:map_fd)"))
