"""Text dump of a live map, like ``bpftool map dump``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .codec import BTFCodec, PerCPUCodec

if TYPE_CHECKING:
    from ..map import Map


def _hex(raw: bytes) -> str:
    return " ".join(f"{b:02x}" for b in raw)


def _fmt(codec: object, raw: bytes) -> str:
    if isinstance(codec, BTFCodec):
        return codec.format(raw)
    return _hex(raw)


def format_map(m: Map) -> str:
    """One line per entry: ``key: <key> value: <value>``; per-CPU values one CPU per line.

    Typed parts are printed with :meth:`pybpf.btf.BTF.format_value`, untyped ones as hex bytes.
    """
    kc, vc = m._key_codec, m._value_codec
    ks = m.key_size
    lines: list[str] = []
    found = 0
    for keys, values, count in m._raw_chunks():
        vs = vc.size
        found += count
        for i in range(count):
            kraw, vraw = keys[i * ks:(i + 1) * ks], values[i * vs:(i + 1) * vs]
            key = _fmt(kc, kraw)
            if isinstance(vc, PerCPUCodec):
                lines.append(f"key: {key}")
                n = vc.elem.size
                for cpu in range(vc.ncpus):
                    lines.append(f"    cpu{cpu}: {_fmt(vc.elem, vraw[cpu * vc.slot:cpu * vc.slot + n])}")
            else:
                lines.append(f"key: {key}  value: {_fmt(vc, vraw)}")
    lines.append(f"Found {found} element{'s' if found != 1 else ''}")
    return "\n".join(lines)
