"""Development-time tool: extract helper prototypes from a UAPI ``linux/bpf.h`` into data.

The helper documentation comment of ``include/uapi/linux/bpf.h`` starts each entry with a
prototype line (`` * void *bpf_map_lookup_elem(struct bpf_map *map, const void *key)``);
the ``__BPF_FUNC_MAPPER`` list gives the ids (explicitly as ``FN(name, id, ...)`` in newer
headers, by position in older ones). This script writes ``data/helpers.json``::

    python -m pybpf.cc._gen_helpers [/usr/include/linux/bpf.h]

It is not used at compile time; :mod:`pybpf.cc.headers` reads the JSON it wrote.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

_DOC_START = "Start of BPF helper function descriptions:"
_PROTO = re.compile(r"^ \* (?P<ret>[A-Za-z_][\w\s]*?[\s*]+)(?P<name>bpf_\w+)\((?P<params>.*)\)\s*$")
_MAPPER = re.compile(r"#define __BPF_FUNC_MAPPER\(FN(?:, ctx\.\.\.)?\)(?P<body>(?:.*\\\n)+.*)")
_FN = re.compile(r"FN\((?P<name>\w+)(?:,\s*(?P<id>\d+))?")
_PARAM = re.compile(r"^(?P<type>.*?[\s*])(?P<name>\w+)$")

#: Helpers the kernel has but an older ``linux/bpf.h`` may lack. Prototypes as documented
#: in the kernel's bpf-helpers(7) man page (include/uapi/linux/bpf.h of Linux 6.2+).
SUPPLEMENT: tuple[tuple[int, str, str], ...] = (
    (210, "bpf_cgrp_storage_get", "void *bpf_cgrp_storage_get(struct bpf_map *map, struct cgroup *cgroup, void *value, u64 flags)"),
    (211, "bpf_cgrp_storage_delete", "long bpf_cgrp_storage_delete(struct bpf_map *map, struct cgroup *cgroup)"),
)


def parse_prototype(line: str) -> dict[str, Any] | None:
    """Parse one `` * RET bpf_NAME(PARAMS)`` line into ``{name, ret, params, variadic}``."""
    m = _PROTO.match(line)
    if not m:
        return None
    params: list[list[str]] = []
    variadic = False
    raw = m["params"].strip()
    if raw and raw != "void":
        for part in (p.strip() for p in raw.split(",")):
            if part == "...":
                variadic = True
                continue
            pm = _PARAM.match(part)
            if pm is None:
                raise ValueError(f"cannot parse parameter {part!r} in {line!r}")
            params.append([_norm(pm["type"]), pm["name"]])
    return {"name": m["name"], "ret": _norm(m["ret"]), "params": params, "variadic": variadic}


def _norm(ctype: str) -> str:
    """``'const void  *'`` -> ``'const void *'``."""
    text = re.sub(r"\s+", " ", ctype.strip())
    return re.sub(r"\s*\*", " *", text).replace("* *", "**").strip()


def parse_header(text: str) -> list[dict[str, Any]]:
    """All helpers documented in ``text`` (a linux/bpf.h), with ids, sorted by id."""
    doc = text[text.index(_DOC_START):]
    doc = doc[: doc.index("\n */")]
    protos = {}
    for line in doc.splitlines():
        entry = parse_prototype(line)
        if entry:
            protos[entry["name"]] = entry
    mapper = _MAPPER.search(text)
    if mapper is None:
        raise ValueError("no __BPF_FUNC_MAPPER in the header")
    ids: dict[str, int] = {}
    for pos, fm in enumerate(_FN.finditer(mapper["body"])):
        ids["bpf_" + fm["name"]] = int(fm["id"]) if fm["id"] else pos
    for hid, name, proto in SUPPLEMENT:
        if name not in protos:
            entry = parse_prototype(" * " + proto)
            assert entry is not None
            protos[name] = entry
            ids[name] = hid
    out = []
    for name, entry in protos.items():
        if name in ids and ids[name] > 0:
            out.append({"id": ids[name], **entry})
    return sorted(out, key=lambda e: e["id"])


def main(argv: list[str]) -> int:
    src = Path(argv[0] if argv else "/usr/include/linux/bpf.h")
    helpers = parse_header(src.read_text())
    dest = Path(__file__).parent / "data" / "helpers.json"
    doc = {"source": "include/uapi/linux/bpf.h helper documentation", "helpers": helpers}
    dest.write_text(json.dumps(doc, indent=1) + "\n")
    sys.stderr.write(f"wrote {len(helpers)} helpers to {dest}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
