"""Differential: pybpf.features against ``bpftool -j feature probe kernel`` (Debian bpftool).

Program and map types must agree, except where the disagreement is explained and checked:

- ``tracing``: bpftool probes it with an fentry program (which needs a BPF trampoline);
  pybpf probes the type with a tp_btf program and reports fentry as its own feature. So
  bpftool's answer for ``tracing`` must equal pybpf's ``fentry``, and ``tp_btf`` must work.

For helpers, bpftool (libbpf 1.1) only treats "unknown func"/"invalid func" as refusals,
and kernels since 6.x say "program of this type cannot use helper" instead, so on this
kernel it claims every helper for every program type. Hence: pybpf's callable helpers must
be a subset of bpftool's, and each helper bpftool claims that pybpf denies must be refused
by the verifier when a program really calls it (checked here with a direct load).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest

from pybpf import features
from pybpf.enums import ProgramType
from pybpf.errors import VerifierError
from pybpf.features.progs import load
from pybpf.isa import HELPER_IDS

pytestmark = pytest.mark.skipif(shutil.which("bpftool") is None, reason="bpftool is not installed")

#: Program types whose probe differs on purpose (see the module docstring): type -> feature that matches bpftool.
EXPLAINED = {"tracing": "fentry"}
HELPER_TYPES = (ProgramType.XDP, ProgramType.TRACEPOINT, ProgramType.SOCKET_FILTER, ProgramType.SCHED_CLS,
                ProgramType.KPROBE, ProgramType.CGROUP_SKB)


@pytest.fixture(scope="module")
def bpftool() -> dict[str, Any]:
    out = subprocess.run(["bpftool", "-j", "feature", "probe", "kernel"], check=True, capture_output=True, text=True).stdout
    return json.loads(out)  # type: ignore[no-any-return]


def test_program_types_agree(bpftool: dict[str, Any]) -> None:
    compared = 0
    for pt in features.PROGRAM_TYPES:
        key = f"have_{pt.name.lower()}_prog_type"
        if key not in bpftool["program_types"]:
            continue  # newer than this bpftool (e.g. netfilter)
        theirs = bpftool["program_types"][key]
        name = pt.name.lower()
        if name in EXPLAINED:
            assert features.feature(EXPLAINED[name]).supported == theirs, name
            assert features.program_type(pt).supported == features.feature("tp_btf").supported
            continue
        ours = features.program_type(pt)
        assert ours.supported == theirs, f"{name}: pybpf says {ours}, bpftool says {theirs}"
        compared += 1
    assert compared >= 28


def test_map_types_agree(bpftool: dict[str, Any]) -> None:
    compared = 0
    for mt in features.MAP_TYPES:
        key = f"have_{mt.name.lower()}_map_type"
        if key not in bpftool["map_types"]:
            continue  # newer than this bpftool (cgrp_storage, arena)
        ours = features.map_type(mt)
        assert ours.supported == bpftool["map_types"][key], f"{mt.name}: {ours}"
        compared += 1
    assert compared >= 30


def test_misc_agrees(bpftool: dict[str, Any]) -> None:
    misc = bpftool["misc"]
    assert features.feature("bounded_loops").supported == misc["have_bounded_loops"]
    assert features.feature("cpu_v2").supported == misc["have_v2_isa_extension"]
    assert features.feature("cpu_v3").supported == misc["have_v3_isa_extension"]


def _direct_refusal(pt: ProgramType, hid: int) -> str:
    """The verifier's refusal when a program of type ``pt`` calls helper ``hid`` (empty if it accepts the call)."""
    try:
        load(pt, f"call {hid}\nr0 = 0\nexit").close()
    except VerifierError as exc:
        for words in ("cannot use helper", "unknown func", "invalid func", "might sleep in a non-sleepable"):
            if words in exc.log:
                return words
    return ""


@pytest.mark.parametrize("pt", HELPER_TYPES, ids=lambda p: p.name.lower())
def test_helpers_agree_with_bpftool_and_the_verifier(bpftool: dict[str, Any], pt: ProgramType) -> None:
    theirs = set(bpftool["helpers"][f"{pt.name.lower()}_available_helpers"])
    answers = features.helpers(pt)
    ours = {name for name, r in answers.items() if r.supported}
    assert ours, "no helper at all?"
    known_to_bpftool = {h for helpers in bpftool["helpers"].values() for h in helpers}
    assert ours & known_to_bpftool <= theirs
    denied = sorted((theirs & set(answers)) - ours)
    for name in denied:
        refusal = _direct_refusal(pt, HELPER_IDS[name])
        assert refusal, f"pybpf denies {name} for {pt.name.lower()} but the verifier accepts the call"
        assert refusal in answers[name].reason
    # the other direction: a sample of what pybpf allows really is accepted by the verifier
    for name in sorted(ours)[:: max(1, len(ours) // 15)]:
        assert not _direct_refusal(pt, HELPER_IDS[name]), name


def _loads(pt: ProgramType, text: str) -> bool:
    try:
        load(pt, text).close()
    except VerifierError:
        return False
    return True


#: (program type, helper, a program calling it with valid arguments)
REAL_CALLS = [
    (ProgramType.TRACEPOINT, "bpf_get_current_comm", "r1 = r10\nr1 += -16\nr2 = 16\ncall bpf_get_current_comm\nr0 = 0\nexit"),
    (ProgramType.XDP, "bpf_get_current_comm", "r1 = r10\nr1 += -16\nr2 = 16\ncall bpf_get_current_comm\nr0 = 2\nexit"),
    (ProgramType.XDP, "bpf_xdp_adjust_head", "r2 = 0\ncall bpf_xdp_adjust_head\nr0 = 2\nexit"),
    (ProgramType.TRACEPOINT, "bpf_xdp_adjust_head", "r2 = 0\ncall bpf_xdp_adjust_head\nr0 = 0\nexit"),
    (ProgramType.SOCKET_FILTER, "bpf_ktime_get_ns", "call bpf_ktime_get_ns\nr0 = 0\nexit"),
    (ProgramType.TRACEPOINT, "bpf_copy_from_user", "r1 = r10\nr1 += -8\nr2 = 8\nr3 = 0\ncall bpf_copy_from_user\nr0 = 0\nexit"),
]


@pytest.mark.parametrize(("pt", "name", "text"), REAL_CALLS, ids=[f"{p.name.lower()}-{n}" for p, n, _ in REAL_CALLS])
def test_helper_answer_matches_a_real_call(pt: ProgramType, name: str, text: str) -> None:
    """Ground truth: a program calling the helper with valid arguments loads iff pybpf says supported."""
    assert features.helper(pt, name).supported == _loads(pt, text)


def test_known_answers_on_this_kernel() -> None:
    assert features.helper(ProgramType.XDP, "bpf_xdp_adjust_head").supported
    refused = features.helper(ProgramType.TRACEPOINT, "bpf_xdp_adjust_head")
    assert not refused.supported and "cannot use helper bpf_xdp_adjust_head" in refused.reason
    assert features.helper(ProgramType.TRACEPOINT, "bpf_get_current_comm").supported
    sleepy = features.helper(ProgramType.TRACEPOINT, "bpf_copy_from_user")
    assert not sleepy.supported and "sleepable" in sleepy.reason


def test_an_unknown_helper_id_is_refused() -> None:
    r = features.helper(ProgramType.XDP, max(HELPER_IDS.values()) + 1000)
    assert not r.supported and "does not know this helper" in r.reason


def test_lirc_mode2_follows_the_kernel_config() -> None:
    """A type the kernel config leaves out is unsupported, and the reason names the option."""
    from pybpf.loader.kconfig import system_config

    enabled = system_config().get("CONFIG_BPF_LIRC_MODE2", "n") != "n"
    r = features.program_type(ProgramType.LIRC_MODE2)
    assert r.supported == enabled
    if not enabled:
        assert r.reason.startswith("CONFIG_BPF_LIRC_MODE2 is off; ") and "EINVAL" in r.reason
