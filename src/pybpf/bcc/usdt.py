"""``USDT(pid=, path=)``: bcc's USDT context — which probe each BPF function handles.

Pass contexts to ``BPF(text=..., usdt_contexts=[u])``; the functions named in
:meth:`USDT.enable_probe` are compiled as USDT programs (``bpf_usdt_readarg`` works in them)
and attached to every site of their probe when the BPF object is created.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from ..errors import BPFError


class USDTError(BPFError):
    """A USDT probe that cannot be found or enabled."""


@dataclass(frozen=True)
class EnabledProbe:
    provider: str
    name: str
    fn_name: str


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, (bytes, bytearray)) else str(value)


class USDT:
    """The USDT probes of one process (``pid``) or binary (``path``)."""

    def __init__(self, pid: int | None = None, path: str | bytes | None = None) -> None:
        if pid is None and path is None:
            raise USDTError("USDT needs a pid= or a path= (the binary or library with the probes)")
        self.pid = pid
        if path is not None:
            self.path = _text(path)
        else:
            self.path = os.readlink(f"/proc/{pid}/exe")
        self.probes: list[EnabledProbe] = []

    def _sites(self) -> list[Any]:
        from ..link.usdt import probes

        return probes(self.path)

    def enumerate_probes(self) -> list[Any]:
        """The probe sites of the binary (``provider``, ``name``, ``address``, ``arg_text``...)."""
        return self._sites()

    def enable_probe(self, probe: str | bytes, fn_name: str | bytes) -> None:
        """Handle USDT probe ``probe`` (``"name"`` or ``"provider:name"``) with BPF function ``fn_name``."""
        text = _text(probe)
        provider, _, name = text.rpartition(":")
        sites = self._sites()
        matching = [s for s in sites if s.name == name and (not provider or s.provider == provider)]
        if not matching:
            known = sorted({f"{s.provider}:{s.name}" for s in sites})
            raise USDTError(f"{self.path} has no USDT probe {text!r}"
                            + (f"; it has {', '.join(known[:20])}" if known else " (no .note.stapsdt section)"))
        providers = sorted({s.provider for s in matching})
        if len(providers) > 1:
            raise USDTError(f"USDT probe {name!r} exists in providers {providers}; write it as provider:name")
        self.probes.append(EnabledProbe(providers[0], name, _text(fn_name)))

    def enable_probe_or_bail(self, probe: str | bytes, fn_name: str | bytes) -> None:
        """:meth:`enable_probe`, exiting the script with a message when the probe is missing."""
        try:
            self.enable_probe(probe, fn_name)
        except USDTError as exc:
            print(f"Error attaching USDT probes: {exc}")
            raise SystemExit(1) from None

    def get_text(self) -> str:
        """bcc generates argument-reading code here; pybpf reads arguments at run time: empty."""
        return ""

    @property
    def functions(self) -> list[str]:
        """The BPF functions this context enables."""
        return [p.fn_name for p in self.probes]

    def __repr__(self) -> str:
        return f"<USDT pid={self.pid} path={self.path!r} probes={[(p.provider, p.name) for p in self.probes]}>"


__all__ = ["EnabledProbe", "USDT", "USDTError"]
