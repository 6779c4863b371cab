// __ksym externs in the VM: typed and untyped kernel variables, a weak one nobody gives,
// built-in kfuncs (RCU, task reference counting) and one the test registers.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct task_struct;

extern const int some_counter __ksym;          /* typed: its BTF type is int */
extern const void bpf_prog_active __ksym;      /* untyped: only an address */
extern const void maybe_missing __ksym __weak; /* NULL unless given */
extern void bpf_rcu_read_lock(void) __ksym;
extern void bpf_rcu_read_unlock(void) __ksym;
extern struct task_struct *bpf_task_acquire(struct task_struct *p) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;
extern int scale(int value, int factor) __ksym;
extern int maybe_kfunc(int x) __ksym __weak;

SEC("xdp") int ksyms(struct xdp_md *ctx)
{
	int active = 0, v;

	bpf_rcu_read_lock();
	bpf_probe_read_kernel(&active, sizeof(active), &bpf_prog_active);
	bpf_rcu_read_unlock();
	v = active + some_counter;
	if (&maybe_missing)
		v += 1000;
	return scale(v, 3);
}

SEC("xdp") int task_ref(struct xdp_md *ctx)
{
	struct task_struct *t = bpf_task_acquire((struct task_struct *)(long)ctx->data);
	int same = (long)t == (long)ctx->data;

	if (t)
		bpf_task_release(t);
	return same;
}

SEC("xdp") int weak_kfunc(struct xdp_md *ctx)
{
	if (maybe_kfunc)  /* bpf_ksym_exists: 0 unless the VM has an implementation */
		return maybe_kfunc(20);
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
