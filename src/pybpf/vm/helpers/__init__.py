"""The VM's helpers: ``id -> func(runtime, r1, r2, r3, r4, r5) -> int`` (callback helpers take the
frame depth as a seventh argument). Each module contributes a table; :data:`BUILTIN_HELPERS`
is their union. Add your own with ``Runtime.register_helper`` (``Collection.register_helper``).
"""

from __future__ import annotations

from typing import Callable

from . import events, maps, misc, net, skb

__all__ = ["BUILTIN_HELPERS"]

BUILTIN_HELPERS: dict[int, Callable[..., int]] = {
    **maps.HELPERS, **misc.HELPERS, **net.HELPERS, **events.HELPERS, **skb.HELPERS,
}
