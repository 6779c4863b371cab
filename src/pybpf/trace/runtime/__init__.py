"""The runtime of ``pybpf trace``: run a compiled script and print what it reports, as bpftrace does.

Modules:

- :mod:`.formatting` — printf semantics (C conversions after bpftrace's 64-bit promotion).
- :mod:`.hist` — hist/lhist bucket math and the ``[4, 8)   1 |@@@@|`` rendering.
- :mod:`.aggregations` — maps as printed at exit, on Ctrl-C and by ``print(@m, top, div)``.
- :mod:`.json` — ``-f json`` NDJSON records.
- :mod:`.decode` — event record / map bytes -> Python values, driven by the front end's types.
- :mod:`.maps` — BPF map entries -> :class:`~.aggregations.MapData` (per-CPU merge, buckets, stacks).
- :mod:`.output` — the text and JSON printers the session writes through.
- :mod:`.listing` — ``-l`` / ``-lv``.
- :mod:`.session` — the run loop (BEGIN/attach/END, exit, Ctrl-C, ``-c``, ``-p``, lost events).

The interface with code generation
----------------------------------

The runtime takes a ``pybpf.trace.codegen.result.CompiledScript`` and never looks at IR:

``object_spec``
    loaded with :func:`pybpf.load`; ``prepare(collection)`` is called before anything runs.
``probes``
    ``ProbeAttach(index, program_name, kind, attach_point, name, probe_index)``; BEGIN and END
    programs are raw_tracepoint programs the runtime runs with ``BPF_PROG_TEST_RUN`` (BEGIN after
    attaching, END after detaching); the others are attached through :mod:`pybpf.link` by
    ``kind``. ``name`` is what the ``probe`` builtin prints (``index`` is its value).
``maps``
    bpftrace map name -> ``MapBinding(info, bpf_name, key_size, value_size, percpu, bucket_key,
    stack_map)``; storage layout in :mod:`.maps`.
``events`` / ``ringbuf_map``
    ``semantic.model.EventLayout`` records (``u64 id`` then C-aligned fields) read from the ring
    buffer and dispatched by ``EventKind``: PRINTF (``fmt`` + fields), PRINT (a value, or
    ``map`` with ``extra=(top, div)``), TIME (``fmt``), JOIN (an array of strings,
    ``extra=(separator,)``), EXIT, CAT and SYSTEM (``fmt`` + fields -> path / command line),
    CLEAR and ZERO (``map``; done from userspace).
``cpid``
    compiled in: ``pybpf trace -c`` starts the command paused (:class:`.session.PausedCommand`)
    before compiling, and releases it once every probe is attached.

>>> from pybpf.trace.runtime.aggregations import Agg, MapData, map_text
>>> print(map_text(MapData("@bytes", Agg.HIST, {(): [0, 0, 0, 0, 3, 1]})), end="")
@bytes: 
[4, 8)                 3 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
[8, 16)                1 |@@@@@@@@@@@@@@@@@                                   |
<BLANKLINE>
"""

from __future__ import annotations
