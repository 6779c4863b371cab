"""Section dispatch of the socket-level hooks (sockops, sk_msg, sk_skb, sk_reuseport, netfilter)."""

from __future__ import annotations

from typing import Any

import pytest

from pybpf.elf.sections import parse_section_name
from pybpf.enums import AttachType
from pybpf.link import auto


@pytest.mark.parametrize(
    ("section", "module", "function", "attach_type"),
    [
        ("sockops", "cgroup", "cgroup", AttachType.CGROUP_SOCK_OPS),
        ("sk_msg", "sockmap", "sockmap", AttachType.SK_MSG_VERDICT),
        ("sk_skb/stream_verdict", "sockmap", "sockmap", AttachType.SK_SKB_STREAM_VERDICT),
        ("sk_skb/stream_parser", "sockmap", "sockmap", AttachType.SK_SKB_STREAM_PARSER),
        ("sk_skb/verdict", "sockmap", "sockmap", AttachType.SK_SKB_VERDICT),
        ("sk_reuseport", "socket", "reuseport", None),
        ("netfilter", "netfilter", "netfilter", None),
    ],
)
def test_socket_level_sections_dispatch_with_their_attach_type(
    monkeypatch: pytest.MonkeyPatch, section: str, module: str, function: str, attach_type: AttachType | None
) -> None:
    calls: list[tuple[str, str, tuple[Any, ...]]] = []

    def fake_fn(mod: str, name: str) -> Any:
        return lambda prog, *args, **kw: calls.append((mod, name, args)) or "link"

    monkeypatch.setattr(auto, "_fn", fake_fn)
    sec = parse_section_name(section)
    assert sec is not None
    handler = auto.HANDLERS.get(sec.prefix.rstrip("+")) or auto.HANDLERS.get(sec.name)
    assert handler is not None and not handler.named  # needs a target: never auto-attached
    assert handler.call(object(), sec.attach_to, sec, ("target",), {}) == "link"  # type: ignore[arg-type]
    expected_args: tuple[Any, ...] = ("target", attach_type) if attach_type is not None and module != "socket" else ("target",)
    if module == "netfilter":
        expected_args = ("target",)
    assert calls == [(module, function, expected_args)]
