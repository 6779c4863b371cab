"""What this kernel can do, probed once per process, each answer with the reason when it can't.

>>> from pybpf import features
>>> from pybpf.enums import ProgramType, MapType
>>> r = features.map_type(MapType.HASH)          # doctest: +SKIP
>>> r.supported, r.min_kernel                    # doctest: +SKIP
(True, '3.19')
>>> features.helper(ProgramType.XDP, "bpf_xdp_adjust_head").supported   # doctest: +SKIP
True
>>> features.require("kprobe")                   # doctest: +SKIP
Traceback (most recent call last):
NotSupportedError: kprobe is not supported by this kernel (CONFIG_KPROBES is off: ...); use a tracepoint: ...

Every answer is a :class:`FeatureResult` ``(supported, reason, min_kernel)``:

- :func:`program_type` / :func:`map_type`: a minimal program loads / map is created;
- :func:`helper`: the verifier lets programs of that type *call* the helper (refusals are
  read from the verifier log, so a helper the kernel knows but forbids there is unsupported);
- :func:`attach` / :func:`feature`: the named features of :data:`FEATURES` (attach kinds,
  ISA levels, BTF kinds, map abilities), each with the alternative :func:`require` suggests.

Probes are cached per process; :func:`clear_cache` forgets them.
"""

from __future__ import annotations

from ..errors import NotSupportedError
from ._core import FeatureResult, UnknownFeatureError, clear_cache
from .maps import MAP_TYPES, map_type
from .progs import PROGRAM_TYPES, helper, helpers, supported_helpers, program_type
from .registry import ALIASES, FEATURES, AttachKind, Feature, all_features, alternative, attach, feature, require

__all__ = [
    "ALIASES", "FEATURES", "MAP_TYPES", "PROGRAM_TYPES", "AttachKind", "Feature", "FeatureResult", "NotSupportedError",
    "UnknownFeatureError", "all_features", "alternative", "attach", "clear_cache", "feature", "helper", "helpers",
    "map_type", "program_type", "require", "supported_helpers",
]
