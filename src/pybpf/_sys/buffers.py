"""Passing Python buffers to the kernel as ``__u64`` pointers.

The kernel reads or writes through a pointer stored in an attr; the Python object that owns
the memory must stay alive until the syscall returns, so these helpers return it alongside
the address and call sites keep it in a local variable.
"""

from __future__ import annotations

import ctypes
from typing import Union

#: Anything bytes-like that can be handed to the kernel for reading.
Buffer = Union[bytes, bytearray, memoryview]


_COPY_LIMIT = 4096


class Pinned:
    """Memory the kernel may read: ``address`` is valid while this object lives."""

    __slots__ = ("address", "size", "_keep")

    def __init__(self, data: Buffer | None) -> None:
        if data is None or len(data) == 0:
            self._keep: object = None
            self.address = 0
            self.size = 0
            return
        if isinstance(data, bytes):
            self.size = len(data)
            if self.size <= _COPY_LIMIT:  # a small copy is cheaper than pointing into the bytes
                copy = (ctypes.c_char * self.size).from_buffer_copy(data)
                self._keep, self.address = copy, ctypes.addressof(copy)
            else:
                keep = ctypes.c_char_p(data)  # points into the bytes object itself: no copy
                self.address = ctypes.cast(keep, ctypes.c_void_p).value or 0
                self._keep = (keep, data)
            return
        view = memoryview(data).cast("B")
        if view.readonly:
            copy = ctypes.create_string_buffer(view.tobytes(), len(view))
            self._keep, self.address = copy, ctypes.addressof(copy)
        else:
            arr = (ctypes.c_char * len(view)).from_buffer(view)
            self._keep, self.address = (arr, view), ctypes.addressof(arr)
        self.size = len(view)


class OutBuffer:
    """Zeroed memory the kernel may write: ``address`` and ``size``; read it back with ``bytes``."""

    __slots__ = ("address", "size", "_buf")

    def __init__(self, size: int, initial: Buffer | None = None) -> None:
        self._buf = ctypes.create_string_buffer(max(size, 1))
        if initial:
            ctypes.memmove(self._buf, bytes(initial), min(len(initial), size))
        self.address = ctypes.addressof(self._buf) if size else 0
        self.size = size

    def read(self, length: int | None = None) -> bytes:
        """The first ``length`` bytes (default: all of it)."""
        n = self.size if length is None else min(length, self.size)
        return self._buf.raw[:n]

    def view(self) -> memoryview:
        """A writable view over the whole buffer (no copy)."""
        return memoryview(self._buf).cast("B")[: self.size]


def c_string(text: str | bytes) -> Pinned:
    """A NUL-terminated copy of ``text`` for ``char *`` attr fields."""
    raw = text.encode() if isinstance(text, str) else text
    return Pinned(raw + b"\0")


def object_name(name: str | bytes) -> bytes:
    """A bpf object name (``char[16]``): at most 15 bytes, only ``[A-Za-z0-9_.]`` kept."""
    raw = name.encode() if isinstance(name, str) else name
    kept = bytes(ch for ch in raw if (chr(ch).isascii() and chr(ch).isalnum()) or ch in b"_.")
    return kept[:15]
