"""Perf buffer events/s into Python (per-record callback and numpy batches) against a C
consumer using libbpf's perf_buffer (bench/c/consumer.c), measured in the same run.

Run (root): .venv/bin/python bench/bench_perfbuf.py [COUNT]
Goal (issue 4): batch mode >= 2,000,000 events/s and within 3x of C, with lost = 0.

Method: as bench/bench_ringbuf.py. The producer thread is pinned to CPU 0, so every sample
goes to CPU 0's perf ring (PAGE_COUNT pages for both consumers); it paces itself on the
consumer's progress (at most half a ring ahead), so no sample is lost; each run checks the
count, the sum of sequence numbers, the reader's lost count and the program's output
failures. Three configurations: ``wakeup_events=1`` (libbpf's perf_buffer__new default: the
kernel wakes the reader for every sample, which costs the *producer* an irq_work and a
wakeup per sample, so every consumer gets the same, producer-bound rate), then
``wakeup_events=64`` and ``1024`` (perf_buffer__new_raw in C, ``PerfBuffer(wakeup_events=N)``
in Python), where the readers' own speed starts to show.
"""

from __future__ import annotations

import sys

from bench_ringbuf import RUNS, best, c_run, load, python_run, report

import pybpf
from pybpf.events import PerfBuffer

PAGE_COUNT = 1024
SAMPLE_SPAN = 48  # perf header 8 + u32 size 4 + 32-byte record, 8-aligned
WAKEUP_BATCH = 64  # the second configuration's wakeup_events
WAKEUP_LARGE = 1024  # the third's: wakeups rare enough that the readers' own speed shows


def run(obj: pybpf.Collection, count: int, wakeup: int) -> None:
    """C, Python callback and Python batches with perf_event_attr.wakeup_events = ``wakeup``."""
    expected_sum = count * (count - 1) // 2
    capacity = PAGE_COUNT * 4096 // SAMPLE_SPAN // 2
    pb_map = obj.maps["pb"]
    cb_sum = [0]
    batch_sum = [0]

    def on_sample(data: bytes) -> None:
        cb_sum[0] += int.from_bytes(data[:8], "little")

    def cb_reader() -> PerfBuffer:
        cb_sum[0] = 0
        return PerfBuffer(pb_map, on_sample, page_count=PAGE_COUNT, wakeup_events=wakeup)

    def cb_step(pb: PerfBuffer) -> int:
        return pb.poll(0.1) or pb.consume()  # fewer than wakeup_events samples pending: no wakeup came

    def batch_reader() -> PerfBuffer:
        batch_sum[0] = 0
        return PerfBuffer(pb_map, record_type="event", btf=obj, page_count=PAGE_COUNT, wakeup_events=wakeup)

    def batch_step(pb: PerfBuffer) -> int:
        b = pb.poll_batch(0.1)
        batch_sum[0] += int(b["seq"].sum())
        return int(b.size)

    c_results = [c_run(obj, "pb", "perfbuf", count, capacity, "pb_produce", [str(PAGE_COUNT), str(wakeup)])
                 for _ in range(RUNS)]
    c_seconds, c_lost, c_sum = min(c_results)
    assert c_sum == expected_sum and c_lost == 0 and obj.globals["pb_fail"] == 0
    cb_seconds, cb_lost = best(lambda: python_run(obj, count, cb_reader, cb_step, capacity, "pb_produce"))
    assert cb_sum[0] == expected_sum and cb_lost == 0 and obj.globals["pb_fail"] == 0, "callback mode lost samples"
    b_seconds, b_lost = best(lambda: python_run(obj, count, batch_reader, batch_step, capacity, "pb_produce"))
    assert batch_sum[0] == expected_sum and b_lost == 0 and obj.globals["pb_fail"] == 0, "batch mode lost samples"

    print(f"perf buffer, {count:,} samples of 32 bytes, {PAGE_COUNT} pages per CPU, wakeup_events={wakeup}, "
          f"best of {RUNS}; program output failures = 0")
    print(f"{'C (libbpf perf_buffer)':<28} {(count - 1) / c_seconds:>14,.0f} events/s   lost={c_lost}")
    report("Python per-record callback", count, cb_seconds, cb_lost, c_seconds)
    report("Python numpy batches", count, b_seconds, b_lost, c_seconds)
    rate = (count - 1) / b_seconds
    ok = rate >= 2_000_000 and c_seconds * 3 >= b_seconds
    print(f"goal (batch >= 2,000,000 events/s and within 3x of C): {'met' if ok else 'NOT met'}")


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2_000_000
    with load() as obj:
        # wakeup_events=1 costs the producer a wakeup per sample: a smaller count keeps it short
        for wakeup, n in ((1, count // 20), (WAKEUP_BATCH, count), (WAKEUP_LARGE, count)):
            run(obj, n - n % wakeup, wakeup)  # a multiple: the last sample wakes the readers
            print()


if __name__ == "__main__":
    main()
