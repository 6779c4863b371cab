"""pybpf.features over the FakeSyscalls seam: how errnos and verifier logs become answers, caching."""

from __future__ import annotations

import ctypes
import errno
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pybpf import _sys, features
from pybpf._sys.abi import Command
from pybpf._sys.attrs import Attr, MapCreateAttr, ProgLoadAttr
from pybpf._sys.fake import FakeSyscalls, write
from pybpf.enums import AttachType, MapType, ProgramType
from pybpf.errors import BPFError, NotSupportedError
from pybpf.features import _core, env, hooks
from pybpf.features.progs import classify_helper_log
from pybpf.isa import HELPER_IDS, decode

ENOTSUPP = 524


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    features.clear_cache()
    yield
    features.clear_cache()


@pytest.fixture
def fake() -> Iterator[FakeSyscalls]:
    with _sys.override(FakeSyscalls()) as f:
        yield f
    assert not f.open_fds, f"probe leaked fds {f.open_fds}"


def kernel(verdict: Callable[[ProgLoadAttr, list[int]], tuple[int, str] | None]) -> Callable[[Attr], int]:
    """A PROG_LOAD handler: ``verdict(attr, helper ids called)`` gives (errno, log) to fail, None to load."""

    def handler(attr: Attr) -> int:
        assert isinstance(attr, ProgLoadAttr)
        raw = ctypes.string_at(attr.insns, attr.insn_cnt * 8)
        calls = [i.imm for i in decode(raw) if i.opcode == 0x85 and i.src == 0]
        outcome = verdict(attr, calls)
        if outcome is None:
            return _sys.current().new_fd()  # type: ignore[attr-defined]
        err, log = outcome
        if attr.log_level and attr.log_buf and log:
            write(attr.log_buf, log.encode() + b"\0")
        raise OSError(err, "refused")

    return handler


def refuse_helper(log_for: dict[int, str]) -> Callable[[ProgLoadAttr, list[int]], tuple[int, str] | None]:
    """Programs calling a helper in ``log_for`` fail with that verifier log; others load."""

    def verdict(attr: ProgLoadAttr, calls: list[int]) -> tuple[int, str] | None:
        for hid in calls:
            if hid in log_for:
                return errno.EINVAL if "func" in log_for[hid] or "helper" in log_for[hid] else errno.EACCES, log_for[hid]
        return None

    return verdict


CANNOT_USE = "0: R1=ctx() R10=fp0\n0: (85) call bpf_xdp_adjust_head#44\nprogram of this type cannot use helper bpf_xdp_adjust_head#44\nprocessed 1 insns (limit 1000000)\n"
ARGS_ONLY = "0: R1=ctx() R10=fp0\n0: (85) call bpf_get_current_comm#16\nR1 type=ctx expected=fp, pkt, map_value\nprocessed 1 insns (limit 1000000)\n"
OLD_KERNEL = "0: (85) call bpf_xdp_adjust_head#44\nunknown func bpf_xdp_adjust_head#44\n"
UNKNOWN_ID = "0: (85) call unknown#9999\ninvalid func unknown#9999\n"
SLEEPY = "0: (85) call bpf_copy_from_user#148\nhelper call might sleep in a non-sleepable prog\n"


# --- classification of verifier logs ----------------------------------------------------------


@pytest.mark.parametrize(("log", "supported", "words"), [
    (CANNOT_USE, False, "refuses it for this program type"),
    (OLD_KERNEL, False, "refuses it for this program type"),
    (UNKNOWN_ID, False, "does not know this helper"),
    (SLEEPY, False, "only sleepable programs"),
    (ARGS_ONLY, True, "only checks its arguments"),
])
def test_helper_log_classification(log: str, supported: bool, words: str) -> None:
    ok, reason = classify_helper_log(log)
    assert ok is supported
    assert words in reason
    if not supported:  # the verifier's own words are quoted, not the instruction dump
        assert "verifier: " in reason and "(85)" not in reason


def test_helper_refused_for_the_type_is_unsupported(fake: FakeSyscalls) -> None:
    adjust = HELPER_IDS["bpf_xdp_adjust_head"]
    fake.on(Command.PROG_LOAD, kernel(refuse_helper({adjust: CANNOT_USE})))
    r = features.helper(ProgramType.TRACEPOINT, "bpf_xdp_adjust_head")
    assert not r.supported
    assert "program of this type cannot use helper bpf_xdp_adjust_head#44" in r.reason
    assert not features.helper(ProgramType.TRACEPOINT, adjust)  # by id: the same (cached) answer


def test_helper_with_argument_errors_is_supported(fake: FakeSyscalls) -> None:
    comm = HELPER_IDS["bpf_get_current_comm"]
    fake.on(Command.PROG_LOAD, kernel(refuse_helper({comm: ARGS_ONLY})))
    r = features.helper(ProgramType.TRACEPOINT, "get_current_comm")  # the bpf_ prefix is optional
    assert r.supported and "R1 type=ctx expected=fp" in r.reason


def test_helper_probe_loads_the_asked_type_calling_the_asked_helper(fake: FakeSyscalls) -> None:
    seen: list[tuple[int, list[int], int]] = []

    def verdict(attr: ProgLoadAttr, calls: list[int]) -> None:
        seen.append((attr.prog_type, calls, attr.expected_attach_type))
        return None

    fake.on(Command.PROG_LOAD, kernel(verdict))
    assert features.helper(ProgramType.CGROUP_SOCK_ADDR, "bpf_bind").supported
    assert seen[-1] == (ProgramType.CGROUP_SOCK_ADDR, [HELPER_IDS["bpf_bind"]], AttachType.CGROUP_INET4_CONNECT)


def test_helper_of_an_unloadable_type_says_why(fake: FakeSyscalls) -> None:
    fake.on(Command.PROG_LOAD, kernel(lambda attr, calls: (errno.EINVAL, "")))
    r = features.helper(ProgramType.LIRC_MODE2, "bpf_rc_keydown")
    assert not r.supported
    assert "lirc_mode2 programs cannot be loaded" in r.reason and "EINVAL" in r.reason


def test_unknown_helper_name_is_a_clear_error() -> None:
    with pytest.raises(features.UnknownFeatureError, match="unknown helper 'bpf_no_such'"):
        features.helper(ProgramType.XDP, "bpf_no_such")


def test_helpers_lists_every_known_helper(fake: FakeSyscalls) -> None:
    fake.on(Command.PROG_LOAD, kernel(refuse_helper({HELPER_IDS["bpf_xdp_adjust_head"]: CANNOT_USE})))
    answers = features.helpers(ProgramType.SOCKET_FILTER)
    assert len(answers) == len(HELPER_IDS)
    assert "bpf_xdp_adjust_head" not in features.supported_helpers(ProgramType.SOCKET_FILTER)
    assert "bpf_map_lookup_elem" in features.supported_helpers(ProgramType.SOCKET_FILTER)


# --- caching ---------------------------------------------------------------------------------


def test_each_probe_runs_once_per_process(fake: FakeSyscalls) -> None:
    for _ in range(3):
        assert features.helper(ProgramType.XDP, "bpf_redirect").supported
        assert features.program_type(ProgramType.XDP).supported
        assert features.map_type(MapType.HASH).supported
    # one load for the program type, one for the helper; one map
    assert len(fake.calls_for(Command.PROG_LOAD)) == 2
    assert len(fake.calls_for(Command.MAP_CREATE)) == 1
    features.clear_cache()
    features.map_type(MapType.HASH)
    assert len(fake.calls_for(Command.MAP_CREATE)) == 2


def test_a_raising_probe_is_cached_as_unsupported(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def boom() -> tuple[bool, str]:
        calls.append(1)
        raise _sys.error_for(Command.LINK_CREATE, errno.ENOSYS)

    monkeypatch.setitem(features.FEATURES, "tcx", features.Feature("tcx", boom, "6.6", "use tc", "tcx", "attach"))
    assert not features.feature("tcx") and not features.feature("tcx")
    assert "ENOSYS" in features.feature("tcx").reason
    assert features.feature("tcx").min_kernel == "6.6"  # the table's version survives the error
    assert calls == [1]


# --- program types -----------------------------------------------------------------------------


def test_einval_without_a_log_means_the_type_is_unknown(fake: FakeSyscalls) -> None:
    fake.on(Command.PROG_LOAD, kernel(lambda attr, calls: (errno.EINVAL, "")))
    r = features.program_type(ProgramType.NETFILTER)
    assert not r.supported and r.min_kernel == "6.4"
    assert "EINVAL" in r.reason and "does not know this program type" in r.reason


def test_eperm_with_every_capability_blames_the_kernel(fake: FakeSyscalls, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_core, "capabilities", lambda: {"CAP_BPF", "CAP_PERFMON", "CAP_SYS_ADMIN"})
    fake.on(Command.PROG_LOAD, kernel(lambda attr, calls: (errno.EPERM, "")))
    r = features.program_type(ProgramType.LSM)
    assert not r.supported
    assert "EPERM and an empty verifier log" in r.reason
    assert "refuses it before the verifier runs" in r.reason


def test_eperm_without_capabilities_says_which_are_missing(fake: FakeSyscalls, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_core, "capabilities", lambda: set())
    fake.on(Command.PROG_LOAD, kernel(lambda attr, calls: (errno.EPERM, "")))
    r = features.program_type(ProgramType.KPROBE)
    assert not r.supported and "lacks CAP_BPF and CAP_PERFMON" in r.reason


def test_struct_ops_enotsupp_proves_the_type_is_known(fake: FakeSyscalls) -> None:
    fake.on(Command.PROG_LOAD, kernel(lambda attr, calls: (ENOTSUPP, "processed 0 insns (limit 1000000)\n")))
    r = features.program_type(ProgramType.STRUCT_OPS)
    assert r.supported and "ENOTSUPP" in r.reason


def test_a_verifier_refusal_of_the_minimal_program_is_quoted(fake: FakeSyscalls) -> None:
    fake.on(Command.PROG_LOAD, kernel(lambda attr, calls: (errno.EINVAL, "Syscall programs can only be sleepable\nprocessed 0 insns\n")))
    r = features.program_type(ProgramType.SYSCALL)
    assert not r.supported
    assert r.reason.endswith("verifier: Syscall programs can only be sleepable")


def test_probe_settings_reach_the_kernel(fake: FakeSyscalls) -> None:
    features.program_type(ProgramType.SYSCALL)
    features.program_type(ProgramType.SK_LOOKUP)
    attrs = [c.attr for c in fake.calls_for(Command.PROG_LOAD)]
    assert isinstance(attrs[0], ProgLoadAttr) and attrs[0].prog_flags & 16  # BPF_F_SLEEPABLE
    assert isinstance(attrs[1], ProgLoadAttr) and attrs[1].expected_attach_type == AttachType.SK_LOOKUP


# --- map types -----------------------------------------------------------------------------


def test_map_types(fake: FakeSyscalls) -> None:
    def create(attr: Attr) -> int:
        assert isinstance(attr, MapCreateAttr)
        if attr.map_type == MapType.ARENA:
            raise OSError(errno.EINVAL, "unknown")
        return fake.new_fd()

    fake.on(Command.MAP_CREATE, create)
    assert features.map_type(MapType.TASK_STORAGE).supported
    assert features.map_type(MapType.HASH_OF_MAPS).supported
    arena = features.map_type(MapType.ARENA)
    assert not arena.supported and arena.min_kernel == "6.9" and "does not know this map type" in arena.reason
    creates = [c.attr for c in fake.calls_for(Command.MAP_CREATE)]
    storage = next(a for a in creates if isinstance(a, MapCreateAttr) and a.map_type == MapType.TASK_STORAGE)
    assert storage.btf_fd and storage.btf_value_type_id == 1  # local storage needs BTF
    outer = next(a for a in creates if isinstance(a, MapCreateAttr) and a.map_type == MapType.HASH_OF_MAPS)
    assert outer.inner_map_fd
    assert len(fake.calls_for(Command.BTF_LOAD)) == 1


def test_struct_ops_map_enotsupp_is_known(fake: FakeSyscalls) -> None:
    fake.fail(Command.MAP_CREATE, ENOTSUPP)
    assert features.map_type(MapType.STRUCT_OPS).supported


# --- named features, require, the table ------------------------------------------------------


def test_the_table_is_complete() -> None:
    for name, entry in features.FEATURES.items():
        assert entry.name == name
        assert re.fullmatch(r"\d+\.\d+", entry.min_kernel), name
        assert entry.alternative and entry.description, name
    assert {k.value for k in features.AttachKind} <= set(features.FEATURES)


def test_attach_kind_answers_are_the_named_feature(fake: FakeSyscalls) -> None:
    assert features.attach(features.AttachKind.TCX) is features.feature("tcx")


def _no_kprobes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(env, "pmu_type", lambda name: None)
    monkeypatch.setattr(env, "tracefs_dir", lambda: tmp_path)  # a tracefs without kprobe_events
    monkeypatch.setattr(hooks, "config_note", lambda option: f"{option} is off")


def test_kprobe_reason_names_what_is_missing(fake: FakeSyscalls, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _no_kprobes(monkeypatch, tmp_path)
    r = features.attach(features.AttachKind.KPROBE)
    assert not r.supported
    assert r.reason == (
        "CONFIG_KPROBES is off: /sys/bus/event_source/devices/kprobe is missing and tracefs has no kprobe_events"
    )


def test_kprobe_through_tracefs(fake: FakeSyscalls, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _no_kprobes(monkeypatch, tmp_path)
    (tmp_path / "kprobe_events").write_text("")
    assert features.feature("kprobe").supported


def test_require_raises_with_reason_and_alternative(fake: FakeSyscalls, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _no_kprobes(monkeypatch, tmp_path)
    with pytest.raises(NotSupportedError) as info:
        features.require("kprobe")
    exc = info.value
    assert exc.feature == "kprobe"
    assert "CONFIG_KPROBES is off" in exc.reason
    assert exc.alternative == "use a tracepoint: syscalls:sys_enter_<name> or a raw_tp"
    assert "use a tracepoint" in str(exc) and isinstance(exc, BPFError)
    with pytest.raises(NotSupportedError, match="kprobe"):
        features.require(features.AttachKind.KPROBE)


def test_require_fentry_suggests_tracepoints(fake: FakeSyscalls, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hooks, "btf_id_of", lambda names: (names[0], 42))
    monkeypatch.setattr(_core, "capabilities", lambda: {"CAP_BPF", "CAP_PERFMON", "CAP_SYS_ADMIN"})
    fake.on(Command.PROG_LOAD, kernel(lambda attr, calls: (errno.EPERM, "")
                                      if attr.expected_attach_type == AttachType.TRACE_FENTRY else None))
    monkeypatch.setattr("pybpf.features.progs.btf_id_of", lambda names: (names[0], 42))
    with pytest.raises(NotSupportedError) as info:
        features.require("fentry")
    assert info.value.alternative == "use a tracepoint or raw_tp"
    assert "EPERM and an empty verifier log" in info.value.reason
    assert fake.calls_for(Command.PROG_LOAD)[0].attr.attach_btf_id == 42  # type: ignore[attr-defined]


def test_require_returns_the_answer_when_supported(fake: FakeSyscalls) -> None:
    assert features.require(ProgramType.XDP).supported
    assert features.require(MapType.HASH).supported
    assert features.require("btf").supported


def test_require_program_type(fake: FakeSyscalls) -> None:
    fake.on(Command.PROG_LOAD, kernel(lambda attr, calls: (errno.EINVAL, "")))
    with pytest.raises(NotSupportedError, match="netfilter programs is not supported"):
        features.require(ProgramType.NETFILTER)


def test_unknown_feature() -> None:
    with pytest.raises(features.UnknownFeatureError, match="unknown feature 'warp_drive'") as info:
        features.feature("warp_drive")
    assert isinstance(info.value, KeyError)
    with pytest.raises(ValueError):
        features.attach("warp_drive")


def test_kprobe_through_the_pmu_opens_one(fake: FakeSyscalls, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(env, "pmu_type", lambda name: 6 if name == "kprobe" else None)
    monkeypatch.setattr(hooks, "btf_id_of", lambda names: (names[0], 7))
    seen: list[bytes] = []
    real_open = fake.perf_event_open

    def perf_event_open(attr: _sys.PerfEventAttr, pid: int, cpu: int, group_fd: int, flags: int) -> int:
        seen.append(ctypes.string_at(attr.kprobe_func))
        return real_open(attr, pid, cpu, group_fd, flags)

    monkeypatch.setattr(fake, "perf_event_open", perf_event_open)
    r = features.feature("kprobe")
    assert r.supported and "opened a kprobe on do_nanosleep" in r.reason
    assert seen == [b"do_nanosleep"] and fake.perf_attrs[0][0].type == 6 and fake.perf_attrs[0][0].disabled


@pytest.mark.parametrize(("name", "err", "supported", "words"), [
    ("tcx", errno.ENODEV, True, "the kernel looked the device up"),
    ("tcx", errno.EINVAL, False, "does not know tcx links"),
    ("netkit", errno.EINVAL, False, "no netkit devices (CONFIG_NETKIT is off)"),
    ("kprobe_multi", errno.EOPNOTSUPP, False, "no fprobe support (CONFIG_FPROBE is off)"),
    ("kprobe_multi", errno.ENOENT, True, "looked the symbol up"),
    ("uprobe_multi", errno.ENOENT, True, "looked the binary up"),
    ("uprobe_multi", errno.EINVAL, False, "does not know the uprobe.multi attach type"),
    ("cgroup_link", errno.EBADF, True, "tried to open the cgroup"),
    ("xdp_link", errno.EBUSY, True, "already has an XDP program"),
    ("xdp_link", errno.EINVAL, False, "does not know XDP links"),
])
def test_link_probe_errnos(fake: FakeSyscalls, monkeypatch: pytest.MonkeyPatch,
                           name: str, err: int, supported: bool, words: str) -> None:
    monkeypatch.setattr(hooks, "config_note", lambda option: f"{option} is off")
    fake.fail(Command.LINK_CREATE, err)
    r = features.feature(name)
    assert r.supported is supported and words in r.reason
    assert ("EOPNOTSUPP" if err == errno.EOPNOTSUPP else errno.errorcode[err]) in r.reason


def test_link_probe_success_detaches_at_once(fake: FakeSyscalls) -> None:
    assert features.feature("tcx").supported
    link_fd_count = len(fake.calls_for(Command.LINK_CREATE))
    assert link_fd_count == 1 and not fake.open_fds  # the link and the program are closed


def test_aliases(fake: FakeSyscalls, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _no_kprobes(monkeypatch, tmp_path)
    assert features.feature("iter") is features.feature("iterator")
    with pytest.raises(NotSupportedError) as info:
        features.require("kprobes")
    assert info.value.alternative == features.alternative("kprobe")
    assert set(features.ALIASES.values()) <= set(features.FEATURES)


def test_require_map_type_suggests_an_alternative(fake: FakeSyscalls) -> None:
    fake.fail(Command.MAP_CREATE, errno.EINVAL)
    with pytest.raises(NotSupportedError) as info:
        features.require(MapType.RINGBUF)
    assert info.value.feature == "ringbuf maps"
    assert info.value.alternative == "use a perf event array (perf buffer)"
    assert "EINVAL" in info.value.reason and "5.8" == features.map_type(MapType.RINGBUF).min_kernel
