// CO-RE bitfield reads and field/type/enum queries
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

struct task_struct___old {
	long state;
} __attribute__((preserve_access_index));

u64 out_iowait, out_execve, out_exists, out_size, out_enum, out_type_size;

SEC("kprobe/schedule")
int BPF_KPROBE(read_bits)
{
	struct task_struct *task = (void *)bpf_get_current_task();

	out_iowait = BPF_CORE_READ_BITFIELD_PROBED(task, in_iowait);
	out_execve = BPF_CORE_READ_BITFIELD_PROBED(task, in_execve);
	out_exists = bpf_core_field_exists(struct task_struct___old, state) ? 1 : 2;
	out_size = bpf_core_field_size(task->pid) + bpf_core_field_offset(struct task_struct, tgid);
	out_enum = bpf_core_enum_value_exists(enum bpf_map_type, BPF_MAP_TYPE_RINGBUF)
		? bpf_core_enum_value(enum bpf_map_type, BPF_MAP_TYPE_RINGBUF) : 0;
	out_type_size = bpf_core_type_exists(struct task_struct) ? bpf_core_type_size(struct task_struct) : 0;
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(on_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	out_iowait = BPF_CORE_READ_BITFIELD(prev, in_iowait);
	return bpf_core_type_matches(struct task_struct);
}

char LICENSE[] SEC("license") = "GPL";
