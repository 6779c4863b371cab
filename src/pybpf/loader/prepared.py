"""An object's BTF kept in the form loading hands to the kernel, for later loads of the same object.

Loading an object parses its BTF, fits it to the running kernel (:mod:`.btf_sanitize`) and packs
each program's func and line info against it. For most objects that work changes nothing: the
BTF goes to BPF_BTF_LOAD as it was marshalled. A caller that loads the same object again and
again (``pybpf trace``'s cache of compiled programs) keeps the result of :func:`prepare_btf`,
a :class:`PreparedBTF`, and passes it to :func:`pybpf.loader.load_spec` with the spec it
returned (the spec without its BTF): that load imports nothing of :mod:`pybpf.btf`.

This module imports only the standard library at start-up; :func:`prepare_btf` (run once,
when the object is first kept) imports the BTF machinery it needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..spec import ObjectSpec


class PreparedBTF:
    """What BPF_BTF_LOAD and BPF_PROG_LOAD take of an object's BTF, with no type decoded.

    ``blob``: the ``.BTF`` bytes as the kernel loads them; ``func_info`` / ``line_info``: per
    program name, its ``struct bpf_func_info`` / ``struct bpf_line_info`` records, packed (line
    info string offsets point into ``blob``).
    """

    __slots__ = ("blob", "func_info", "line_info")

    def __init__(self, blob: bytes, func_info: dict[str, bytes], line_info: dict[str, bytes]) -> None:
        self.blob = blob
        self.func_info = func_info
        self.line_info = line_info

    def __repr__(self) -> str:
        return f"PreparedBTF({len(self.blob)} bytes, programs={sorted(self.func_info)})"


def prepare_btf(spec: ObjectSpec) -> tuple[ObjectSpec, PreparedBTF] | None:
    """``spec`` without its BTF (and its programs without func and line info) and that BTF
    prepared for loading; None when loading ``spec`` needs more of its BTF than the blob.

    That is: the object has no BTF, it has externs (``.ksyms``, ``.kconfig``), struct_ops maps
    or CO-RE relocations (their resolution reads types), the loader would change its BTF even
    for a kernel with every BTF feature (extern fix-ups), or it uses a kind younger than ring
    buffers (5.8: FLOAT, DECL_TAG, TYPE_TAG, ENUM64), which the sanitiser replaces on kernels that
    lack it. Every kernel with ring buffers takes the other kinds; one that still refuses the blob
    gets the object without BTF, as when it refuses a sanitised BTF (see :func:`pybpf.loader.load_spec`).
    """
    import dataclasses

    from ..btf.ext import pack_func_info, pack_line_info
    from ..enums import MapType
    from .btf_sanitize import ALL_FEATURES, KIND_FEATURE, BTFFeature, sanitize

    btf = spec.btf
    if (btf is None or spec.externs or any(m.section == ".kconfig" or m.type == MapType.STRUCT_OPS
                                           for m in spec.maps.values())
            or any(p.core_relocations for p in spec.programs.values())):
        return None
    older = (BTFFeature.FUNC, BTFFeature.GLOBAL_FUNC, BTFFeature.DATASEC)  # kernels 5.0-5.6
    younger = {int(kind) for kind, feature in KIND_FEATURE.items() if feature not in older}
    if younger.intersection(btf.kinds()) or sanitize(btf, ALL_FEATURES) is not btf:
        return None
    prepared = PreparedBTF(
        btf.to_bytes(),
        {name: pack_func_info(p.func_info) for name, p in spec.programs.items()},
        {name: pack_line_info(p.line_info, btf) for name, p in spec.programs.items()},
    )
    bare = dataclasses.replace(spec, btf=None, programs={
        name: dataclasses.replace(p, func_info=[], line_info=[]) for name, p in spec.programs.items()})
    return bare, prepared
