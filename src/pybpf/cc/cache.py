"""The on-disk cache of compiled objects, generated headers and vmlinux.h.

Objects are cached in "direct mode": a *key* hashes everything known before compiling
(compiler version, flags, source bytes, source location); its manifest lists every header
the compiler read (from its ``-MD`` dependency file) with their SHA-256. A later compile
with the same key is a hit when every listed header still has the same content, so a
hit never runs the compiler.

Location: ``$PYBPF_CACHE_DIR``, else ``$XDG_CACHE_HOME/pybpf``, else ``~/.cache/pybpf``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterable, Mapping

from .._cache_dir import cache_dir

log = logging.getLogger("pybpf.cc")

__all__ = ["ObjectCache", "cache_dir", "parse_depfile", "sha256_file", "sha256_text", "write_atomic"]


def sha256_file(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sha256_text(*parts: str | bytes) -> str:
    """SHA-256 over ``parts``, each length-prefixed so concatenations cannot collide."""
    h = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so readers see either the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".")
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def parse_depfile(text: str) -> list[str]:
    """The prerequisites of a Make-syntax dependency file written by ``clang -MD``."""
    joined = text.replace("\\\n", " ")
    _, _, deps = joined.partition(": ")
    out: list[str] = []
    word = ""
    i = 0
    while i < len(deps):
        c = deps[i]
        if c == "\\" and i + 1 < len(deps) and deps[i + 1] in " #":
            word += deps[i + 1]
            i += 2
            continue
        if c.isspace():
            if word:
                out.append(word)
            word = ""
        else:
            word += c
        i += 1
    if word:
        out.append(word)
    return out


class ObjectCache:
    """Compiled objects keyed by input hash, validated against their headers' content."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root if root is not None else cache_dir()

    def _manifest(self, key: str) -> Path:
        return self.root / "manifests" / key[:2] / f"{key}.json"

    def lookup(self, key: str) -> Path | None:
        """The cached object for ``key`` when all headers it was built from are unchanged."""
        try:
            manifest = json.loads(self._manifest(key).read_text())
            deps: Mapping[str, str] = manifest["deps"]
            obj = self.root / "objects" / str(manifest["object"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        for dep, digest in deps.items():
            try:
                if sha256_file(dep) != digest:
                    log.debug("cache miss for %s: %s changed", key[:12], dep)
                    return None
            except OSError:
                return None
        if not obj.is_file():
            return None
        log.debug("cache hit %s -> %s", key[:12], obj)
        return obj

    def store(self, key: str, obj: Path, deps: Iterable[str]) -> Path:
        """Keep a copy of ``obj`` built from ``deps`` (header paths) under ``key``; return it."""
        digests = {d: sha256_file(d) for d in sorted(set(deps))}
        data = obj.read_bytes()
        name = sha256_text(key, json.dumps(digests, sort_keys=True), data) + ".o"
        dest = self.root / "objects" / name[:2] / name
        if not dest.exists():
            write_atomic(dest, data)
        manifest = {"deps": digests, "object": f"{name[:2]}/{name}"}
        write_atomic(self._manifest(key), json.dumps(manifest, indent=0).encode())
        return dest

    def clear(self) -> None:
        """Remove every cached object and manifest (generated headers are kept)."""
        for sub in ("objects", "manifests"):
            shutil.rmtree(self.root / sub, ignore_errors=True)
