"""Parsing tracefs ``format`` files: field names, offsets, sizes, signedness."""

from __future__ import annotations

from pybpf.tracefs import parse_format

SCHED_PROCESS_EXEC = """name: sched_process_exec
ID: 318
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:__data_loc char[] filename;\toffset:8;\tsize:4;\tsigned:0;
\tfield:pid_t pid;\toffset:12;\tsize:4;\tsigned:1;
\tfield:char comm[16];\toffset:16;\tsize:16;\tsigned:0;
\tfield:const char * name;\toffset:32;\tsize:8;\tsigned:0;

print fmt: "filename=%s pid=%d", __get_str(filename), REC->pid
"""


def test_field_names_skip_types_brackets_and_data_loc() -> None:
    fmt = parse_format(SCHED_PROCESS_EXEC)
    names = [f.name for f in fmt.fields]
    assert names == ["common_type", "common_flags", "common_preempt_count", "common_pid",
                     "filename", "pid", "comm", "name"]
    by_name = {f.name: f for f in fmt.fields}
    assert (by_name["filename"].offset, by_name["filename"].size) == (8, 4)
    assert by_name["pid"].signed and not by_name["comm"].signed
    assert by_name["comm"].size == 16
