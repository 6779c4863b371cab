"""A precompiled ``vmlinux.h``: the generated header parsed once per kernel and compiler.

Parsing the 130k-line ``vmlinux.h`` is most of the compile time of a small program. The
header is precompiled (``clang -x c-header vmlinux.h -o vmlinux.h.<key>.pch``) next to the
generated ``vmlinux.h``, and a later compile whose source *starts with* ``#include
"vmlinux.h"`` loads it with ``-include-pch`` instead of parsing the text again.

A PCH is only valid with the flags it was built with, so its file name carries a hash of
the compiler (kind and version) and of every flag that is not an include directory
(target, ``-O2``, ``-g``, ``-D`` defines, forced ``-include`` files, the user's cflags).
pybpf builds the PCH for its default flags only (the first compile that needs it builds it
while compiling that program the plain way); a compile with other defines or cflags, a
user's own ``vmlinux.h``, or a source with anything before its ``#include "vmlinux.h"``
uses the plain header. The generated ``vmlinux.h`` has an include guard, so the
``#include`` in the source is a no-op once the PCH is loaded: the objects are equivalent
(same code, relocations and BTF types; BTF type ids may be numbered differently).
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
from pathlib import Path
from typing import Sequence

from .cache import sha256_text
from .discovery import Compiler

log = logging.getLogger("pybpf.cc")

#: bump when the way a PCH is built changes, so old ones are not used
PCH_FORMAT = 1
#: options whose next argument is an include directory (no effect on vmlinux.h, which includes nothing)
_DIR_OPTIONS = frozenset({"-I", "-idirafter", "-isystem", "-iquote"})
#: options that do not change what the compiler makes of the header (or name a directory, joined)
_IGNORED_PREFIXES = ("-fdebug-prefix-map=", "-I", "-idirafter", "-isystem", "-iquote", "-MD", "-MF")
_COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.DOTALL)
_LINE_DIRECTIVE = re.compile(r"#\s*line\b|#\s*\d")
_FIRST_INCLUDE = re.compile(r'#\s*include\s*[<"]vmlinux\.h[">]\s*$')


def pch_relevant_flags(flags: Sequence[str]) -> list[str]:
    """``flags`` without include directories and debug-prefix maps: what a PCH must match."""
    out: list[str] = []
    skip = False
    for flag in flags:
        if skip:
            skip = False
            continue
        if flag in _DIR_OPTIONS:
            skip = True
            continue
        if flag.startswith(_IGNORED_PREFIXES):
            continue
        out.append(flag)
    return out


def pch_path(vmlinux_dir: Path, compiler: Compiler, flags: Sequence[str]) -> Path:
    """Where the PCH of ``vmlinux_dir/vmlinux.h`` for ``compiler`` and ``flags`` lives."""
    key = sha256_text(str(PCH_FORMAT), compiler.kind.value, compiler.version,
                      json.dumps(pch_relevant_flags(flags)))
    return vmlinux_dir / f"vmlinux.h.{key[:16]}.pch"


def starts_with_vmlinux(source: str) -> bool:
    """True when the first directive of ``source`` is ``#include "vmlinux.h"``.

    Only comments, blank lines and ``#line`` markers may come before it: a PCH is loaded
    before anything in the file, so a ``#define`` ahead of the include (which could change
    what ``vmlinux.h`` declares) rules the PCH out.
    """
    for line in _COMMENT.sub(" ", source).splitlines():
        stripped = line.strip()
        if not stripped or _LINE_DIRECTIVE.match(stripped):
            continue
        return _FIRST_INCLUDE.match(stripped) is not None
    return False


def is_pch_failure(stderr: str, pch: Path) -> bool:
    """True when a compile failed because of the PCH (stale, corrupt, built with other flags)."""
    return str(pch) in stderr or "precompiled" in stderr or "PCH file" in stderr


class PchBuild:
    """A PCH being built in the background (written under a temporary name, then renamed)."""

    def __init__(self, compiler: Compiler, header: Path, flags: Sequence[str], dest: Path) -> None:
        self.dest = dest
        self.tmp = dest.with_name(f"{dest.name}.{os.getpid()}.tmp")
        self.cmd = [*compiler.command, *flags, "-x", "c-header", str(header), "-o", str(self.tmp)]
        log.debug("precompiling %s: %s", header, " ".join(self.cmd))
        try:
            self.proc: subprocess.Popen[bytes] | None = subprocess.Popen(
                self.cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        except OSError as exc:
            log.debug("cannot start the PCH build: %s", exc)
            self.proc = None

    def wait(self) -> Path | None:
        """The PCH once built, or None (the failure is logged at debug level)."""
        if self.proc is None:
            return None
        _, err = self.proc.communicate()
        if self.proc.returncode != 0:
            log.debug("precompiling vmlinux.h failed (%d): %s", self.proc.returncode, err.decode(errors="replace"))
            self.tmp.unlink(missing_ok=True)
            return None
        os.replace(self.tmp, self.dest)
        log.debug("precompiled %s", self.dest)
        return self.dest


__all__ = ["PCH_FORMAT", "PchBuild", "is_pch_failure", "pch_path", "pch_relevant_flags", "starts_with_vmlinux"]
