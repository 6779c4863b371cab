"""The runtime of ``pybpf trace``: read what the BPF side reports and print it as bpftrace does.

Modules:

- :mod:`.formatting` — printf semantics (C conversions with bpftrace's argument promotion).
- :mod:`.hist` — hist/lhist bucket math and the ``[4, 8)   1 |@@@@|`` rendering.
- :mod:`.aggregations` — maps as printed at exit / on Ctrl-C / by ``print(@m, top, div)``.
- :mod:`.json` — ``-f json`` NDJSON records.
- :mod:`.decode` — event records and map entries (bytes) -> Python values, driven by types.
- :mod:`.listing` — ``-l`` / ``-lv``.
- :mod:`.session` — the run loop (BEGIN/END, interval, exit, Ctrl-C, ``-c``, ``-p``, lost events).

The interface code generation satisfies
---------------------------------------

The runtime never looks at LLVM IR or instructions. It takes a :class:`CompiledScript`
(see :mod:`.session`), which codegen builds from a ``TypedProgram``:

``object_spec``
    the ObjectSpec to load with ``pybpf.load`` (one program per attach point).
``probes``
    a list of ``ProbeAttach(program_name, kind, target, ...)``: what to attach each program to
    (``kind`` is the ``ast.ProbeType``; BEGIN/END programs are run by the runtime with
    ``BPF_PROG_TEST_RUN`` in that order, not attached).
``maps``
    a dict of bpftrace map name (``"@c"``) -> :class:`MapBinding`: the BPF map's name in the
    object, the ``semantic.model.MapInfo`` (key type, value type incl. ``AggType``), and how
    values are stored: per-CPU or not; for hist/lhist, whether the bucket index is the last key
    field (bpftrace's layout: key = (user key..., u64 bucket), value = u64 count).
``events``
    the ``semantic.model.EventLayout`` list (ring buffer records: ``u64 id`` then C-aligned
    fields), and the ring buffer map's name (``ringbuf_map``).

Event records (one ``EventLayout`` each) are decoded by :mod:`.decode` and dispatched by
``EventKind``: PRINTF (fmt + args), PRINT (a value, or ``map`` + ``extra=(top, div)``), TIME
(strftime fmt), JOIN (``extra=(separator,)``, an array of strings), EXIT, CAT, SYSTEM, CLEAR,
ZERO. The runtime reads map contents itself through ``pybpf.map.Map`` (summing per-CPU values).
"""

from __future__ import annotations
