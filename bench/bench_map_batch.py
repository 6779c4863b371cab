"""Dump a 1,000,000-entry hash map: batch ops vs per-key iteration, same run.

Run (root): .venv/bin/python bench/bench_map_batch.py [ENTRIES]
Goal (issue 3): batch at least 10x faster than per key.

- fill:      Map.update() of ENTRIES u32 -> u64 pairs (BPF_MAP_UPDATE_BATCH, 4096 per call)
- batch:     dict(m.iter_items()) — BPF_MAP_LOOKUP_BATCH, keys/values decoded a chunk at a time
- per key:   dict(m.iter_items(use_batch=False)) — BPF_MAP_GET_NEXT_KEY + BPF_MAP_LOOKUP_ELEM
             for every entry (what a kernel without batch ops gets)
Both dumps are checked to return every entry with the right value.
"""

from __future__ import annotations

import sys
import time


def main() -> None:
    from pybpf.enums import MapType
    from pybpf.map import Map

    entries = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with Map.create(MapType.HASH, 4, 8, entries, name="bench") as m:
        start = time.perf_counter()
        m.update((i, i * 7) for i in range(entries))
        fill = time.perf_counter() - start
        print(f"fill      {entries:>9,} entries in {fill:7.3f} s  {entries / fill:>12,.0f} entries/s")

        start = time.perf_counter()
        batched = dict(m.iter_items())
        t_batch = time.perf_counter() - start
        assert len(batched) == entries and batched[entries - 1] == (entries - 1) * 7
        del batched
        print(f"batch     {entries:>9,} entries in {t_batch:7.3f} s  {entries / t_batch:>12,.0f} entries/s")

        start = time.perf_counter()
        per_key = dict(m.iter_items(use_batch=False))
        t_key = time.perf_counter() - start
        assert len(per_key) == entries and per_key[entries - 1] == (entries - 1) * 7
        del per_key
        print(f"per key   {entries:>9,} entries in {t_key:7.3f} s  {entries / t_key:>12,.0f} entries/s")

        ratio = t_key / t_batch
        verdict = "meets" if ratio >= 10 else "MISSES"
        print(f"ratio     batch is {ratio:.1f}x faster than per key ({verdict} the 10x goal)")


if __name__ == "__main__":
    main()
