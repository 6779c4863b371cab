// What bpf_get_current_task and bpf_get_current_task_btf point to, read both ways: through
// bpf_probe_read_kernel and directly (a BTF pointer); field offsets by CO-RE.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct task_struct {
	int pid;
	int tgid;
	char comm[16];
} __attribute__((preserve_access_index));

struct seen {
	int pid, tgid, btf_pid, btf_tgid;
	char comm[16];
	char btf_comm[16];
	long err;
};

struct seen seen;

SEC("raw_tp/sys_enter") int current_task(void *ctx)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	struct task_struct *b = bpf_get_current_task_btf();

	seen.err = bpf_probe_read_kernel(&seen.pid, sizeof(seen.pid), &t->pid);
	seen.err |= bpf_probe_read_kernel(&seen.tgid, sizeof(seen.tgid), &t->tgid);
	seen.err |= bpf_probe_read_kernel_str(seen.comm, sizeof(seen.comm), t->comm) < 0;
	seen.btf_pid = b->pid;
	seen.btf_tgid = b->tgid;
	for (int i = 0; i < 16; i++)
		seen.btf_comm[i] = b->comm[i];
	return (long)t == (long)b;
}

char LICENSE[] SEC("license") = "GPL";
